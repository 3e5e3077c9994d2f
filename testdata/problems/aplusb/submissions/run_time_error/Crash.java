public class Crash {
    public static void main(String[] args) {
        java.util.Scanner in = new java.util.Scanner(System.in);
        int a = in.nextInt(), b = in.nextInt();   // InputMismatchException past 2^31
        System.out.println(a + b);
    }
}
