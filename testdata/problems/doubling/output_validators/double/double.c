/* Multi-pass: each pass the submission doubles n. After a right answer
 * the next pass's input is 2n+1 (nextpass.in), three passes in all; the
 * pass count lives in the feedback directory, which persists. */
#include <stdio.h>

int main(int argc, char **argv) {
    char path[4096];
    long n, answer;
    int pass = 0;
    FILE *f;
    if (argc < 4 || !(f = fopen(argv[1], "r")) || fscanf(f, "%ld", &n) != 1)
        return 1;
    fclose(f);
    snprintf(path, sizeof path, "%s/pass", argv[3]);
    if ((f = fopen(path, "r"))) {
        if (fscanf(f, "%d", &pass) != 1)
            return 1;
        fclose(f);
    }
    pass++;
    if (!(f = fopen(path, "w")))
        return 1;
    fprintf(f, "%d\n", pass);
    fclose(f);
    if (scanf("%ld", &answer) != 1 || answer != 2 * n) {
        snprintf(path, sizeof path, "%s/judgemessage.txt", argv[3]);
        if ((f = fopen(path, "w"))) {
            fprintf(f, "pass %d: expected %ld\n", pass, 2 * n);
            fclose(f);
        }
        return 43;
    }
    if (pass < 3) {
        snprintf(path, sizeof path, "%s/nextpass.in", argv[3]);
        if (!(f = fopen(path, "w")))
            return 1;
        fprintf(f, "%ld\n", 2 * n + 1);
        fclose(f);
    }
    return 42;
}
