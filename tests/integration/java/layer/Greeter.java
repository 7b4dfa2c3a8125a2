package layer;

public class Greeter {
    public static String greet(String name) {
        return "layer greets " + name;
    }
}
