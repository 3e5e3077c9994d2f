// An ordinary accepted solution: sum the integers on stdin, with two threads.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import java.util.StringTokenizer;

public class Main {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        List<Long> values = new ArrayList<>();
        String line;
        while ((line = in.readLine()) != null) {
            StringTokenizer tokens = new StringTokenizer(line);
            while (tokens.hasMoreTokens()) values.add(Long.parseLong(tokens.nextToken()));
        }
        long[] partial = new long[2];
        Thread worker = new Thread(() -> {
            for (int i = 1; i < values.size(); i += 2) partial[1] += values.get(i);
        });
        worker.start();
        for (int i = 0; i < values.size(); i += 2) partial[0] += values.get(i);
        worker.join();
        System.out.println(partial[0] + partial[1]);
    }
}
