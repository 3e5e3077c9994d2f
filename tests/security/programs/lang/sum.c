/* An ordinary accepted solution: sum the integers on stdin, with two threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long long values[1 << 16];
static int count;
static long long partial[2];

static void *add_half(void *arg)
{
    int half = (int)(long)arg;
    for (int i = half; i < count; i += 2)
        partial[half] += values[i];
    return NULL;
}

int main(void)
{
    while (count < (1 << 16) && scanf("%lld", &values[count]) == 1)
        count++;
    pthread_t worker;
    pthread_create(&worker, NULL, add_half, (void *)1L);
    add_half((void *)0L);
    pthread_join(worker, NULL);
    printf("%lld\n", partial[0] + partial[1]);
    return 0;
}
