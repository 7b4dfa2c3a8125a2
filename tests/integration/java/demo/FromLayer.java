package demo;

import layer.Greeter;

public class FromLayer {
    public static String handle(String name) {
        return Greeter.greet(name);
    }
}
