package demo;

public class Slow {
    public static String handle(Object event) throws InterruptedException {
        System.out.println("SLOW started");
        Thread.sleep(30_000);
        return "never";
    }
}
