// rsfloor SRC DST THREADS: the least work a re-sync that learns times through names can do:
// per directory (shared counter over SRC's subdirectories, one level as the bench corpus has),
// readdir the source, fstatat each name on both sides, compare mtimes. Prints unchanged count.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static char **dirs; static int ndirs; static atomic_int next; static atomic_long same;
static const char *S,*D;
static void *work(void*a){ char p[4096];
  for(;;){ int i=atomic_fetch_add(&next,1); if(i>=ndirs) return 0;
    snprintf(p,sizeof p,"%s/%s",S,dirs[i]); int sd=open(p,O_RDONLY|O_DIRECTORY);
    snprintf(p,sizeof p,"%s/%s",D,dirs[i]); int dd=open(p,O_RDONLY|O_DIRECTORY);
    DIR*dp=fdopendir(dup(sd)); struct dirent*e; long n=0;
    while((e=readdir(dp))){ if(e->d_name[0]=='.') continue; struct stat a,b;
      if(fstatat(sd,e->d_name,&a,AT_SYMLINK_NOFOLLOW)) continue;
      if(fstatat(dd,e->d_name,&b,AT_SYMLINK_NOFOLLOW)) continue;
      if(b.st_mtim.tv_sec>a.st_mtim.tv_sec||(b.st_mtim.tv_sec==a.st_mtim.tv_sec&&b.st_mtim.tv_nsec>=a.st_mtim.tv_nsec)) n++; }
    closedir(dp); close(sd); close(dd); atomic_fetch_add(&same,n); } }
int main(int c,char**v){ S=v[1]; D=v[2]; int t=atoi(v[3]);
  DIR*dp=opendir(S); struct dirent*e; dirs=malloc(sizeof(char*)*100000);
  while((e=readdir(dp))) if(e->d_name[0]!='.') dirs[ndirs++]=strdup(e->d_name);
  pthread_t th[64]; for(int i=0;i<t;i++) pthread_create(&th[i],0,work,0); for(int i=0;i<t;i++) pthread_join(th[i],0);
  printf("%ld unchanged in %d dirs\n",(long)same,ndirs); }
