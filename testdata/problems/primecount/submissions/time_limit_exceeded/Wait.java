public class Wait {
    public static void main(String[] args) {
        long spins = 0;
        while (true) spins++;     // never answers: no points anywhere
    }
}
