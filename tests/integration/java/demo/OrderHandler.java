package demo;

public class OrderHandler extends BaseHandler<Order> {
    @Override
    protected String describe(Order order) {
        return order.getKey() + " x" + order.getQuantity();
    }
}
