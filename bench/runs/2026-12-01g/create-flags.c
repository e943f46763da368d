// create-flags.c DIR EXCL N: creates N empty files in a new directory DIR, one openat + close
// each, with O_CREAT|O_EXCL (EXCL=1, as ucopy creates) or O_CREAT|O_TRUNC (EXCL=0, as cpz does),
// and prints the time per file. Build: gcc -O2 -o create-flags create-flags.c
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>
int main(int argc,char**argv){
  int excl=atoi(argv[2]); int n=atoi(argv[3]);
  mkdir(argv[1],0755); int d=open(argv[1],O_RDONLY|O_DIRECTORY);
  char name[64]; struct timespec a,b; clock_gettime(CLOCK_MONOTONIC,&a);
  for(int i=0;i<n;i++){ snprintf(name,64,"file-%d.html",i);
    int f=openat(d,name,O_WRONLY|O_CREAT|O_CLOEXEC|O_NOFOLLOW|(excl?O_EXCL:O_TRUNC),0644); if(f<0){perror("o");return 1;} close(f);}
  clock_gettime(CLOCK_MONOTONIC,&b);
  printf("%s %.1f ns/file\n", excl?"excl":"trunc", ((b.tv_sec-a.tv_sec)*1e9+(b.tv_nsec-a.tv_nsec))/n);
}
