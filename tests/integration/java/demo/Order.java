package demo;

/** An event as a POJO: set through its setters (JSON keys matched case-sensitively, as on AWS). */
public class Order {
    private String bucket;
    private String key;
    private int quantity;

    public String getBucket() { return bucket; }
    public void setBucket(String bucket) { this.bucket = bucket; }
    public String getKey() { return key; }
    public void setKey(String key) { this.key = key; }
    public int getQuantity() { return quantity; }
    public void setQuantity(int quantity) { this.quantity = quantity; }
}
