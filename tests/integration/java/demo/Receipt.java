package demo;

import java.util.List;

/** A result as a POJO: its bean properties and public fields become the JSON object. */
public class Receipt {
    public String note = "public field";
    private final Order order;
    private final List<String> tags;

    Receipt(Order order, List<String> tags) {
        this.order = order;
        this.tags = tags;
    }

    public String getBucket() { return order.getBucket(); }
    public String getKey() { return order.getKey(); }
    public int getTotal() { return order.getQuantity() * 3; }
    public boolean isValidated() { return true; }
    public String getComment() { return null; }
    public List<String> getTags() { return tags; }
    public String getURL() { return "s3://" + order.getBucket() + "/" + order.getKey(); }
}
