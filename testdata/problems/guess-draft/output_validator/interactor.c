/* Guess the number: the secret comes from the input file; each guess
 * (one number a line) is answered "higher", "lower" or "correct"; at most
 * 12 guesses. Exit 42 when found, 43 otherwise (Kattis output validator). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static FILE *feedback;

static void judge(int code, const char *message) {
    if (feedback) {
        fprintf(feedback, "%s\n", message);
        fclose(feedback);
    }
    exit(code);
}

int main(int argc, char **argv) {
    char path[4096];
    long secret, guess;
    FILE *input;
    signal(SIGPIPE, SIG_IGN);   /* a submission that left must not kill us */
    if (argc < 4 || !(input = fopen(argv[1], "r")) || fscanf(input, "%ld", &secret) != 1)
        return 1;
    snprintf(path, sizeof path, "%s/judgemessage.txt", argv[3]);
    feedback = fopen(path, "w");
    for (int i = 1; i <= 12; i++) {
        if (scanf("%ld", &guess) != 1)
            judge(43, "expected a guess");
        if (guess == secret) {
            printf("correct\n");
            fflush(stdout);
            judge(42, "found");
        }
        printf(guess < secret ? "higher\n" : "lower\n");
        fflush(stdout);
    }
    judge(43, "more than 12 guesses");
    return 0;
}
