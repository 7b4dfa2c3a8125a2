package demo;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Plain methods: no interface, no Context. */
public class Plain {
    public static String greet(Map<String, Object> event) {
        return "hello " + event.get("name") + " " + event.get("n").getClass().getSimpleName();
    }

    public static Object echo(Object event) {
        return event;
    }

    public static int count(java.util.List<Integer> numbers) {
        return numbers.size();
    }

    public int length(String s) {
        return s.length();
    }

    public static Map<String, Object> props() {
        return Map.of("heap", Runtime.getRuntime().maxMemory(),
                "tool", String.valueOf(System.getProperty("lamina.test")),
                "opt", String.valueOf(System.getProperty("java.class.path")));
    }

    /** Holds event.mb megabytes of the heap until it returns. */
    public static int hog(Map<String, Object> event) {
        List<byte[]> kept = new ArrayList<>();
        for (int i = 0; i < ((Number) event.get("mb")).intValue(); i++) kept.add(new byte[1 << 20]);
        return kept.size();
    }
}
