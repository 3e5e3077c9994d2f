public class Zero {
    public static void main(String[] args) {
        long n = new java.util.Scanner(System.in).nextLong();
        // 0 is not positive, and n = 1, 2 are answered wrongly too.
        System.out.println(0 + " " + n);
    }
}
