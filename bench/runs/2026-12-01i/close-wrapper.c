// close-wrapper.c MODE: what the C library's close() costs over the bare system call in a
// process with more than one thread (glibc's close is a cancellation point: it switches the
// thread's cancellation type around the call). dup(0) then close, a million times, three rounds:
// MODE 0 closes with glibc's close(), MODE 1 with the syscall instruction.
// Build: gcc -O2 -o close-wrapper close-wrapper.c -lpthread; run: ./close-wrapper 0 </dev/null
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
static void* idle(void*a){ pause(); return 0; }
static inline long raw_close(int fd){ long r; __asm__ volatile("syscall":"=a"(r):"0"(3L),"D"((long)fd):"rcx","r11","memory"); return r; }
int main(int argc,char**argv){ pthread_t t; pthread_create(&t,0,idle,0);
 int mode=atoi(argv[1]); int n=1000000; struct timespec a,b;
 for(int round=0;round<3;round++){
 clock_gettime(CLOCK_MONOTONIC,&a);
 for(int i=0;i<n;i++){ int fd=dup(0); if(mode==0) close(fd); else raw_close(fd); }
 clock_gettime(CLOCK_MONOTONIC,&b);
 printf("mode %d: %.1f ns per dup+close\n",mode,((b.tv_sec-a.tv_sec)*1e9+(b.tv_nsec-a.tv_nsec))/n);}
 return 0; }
