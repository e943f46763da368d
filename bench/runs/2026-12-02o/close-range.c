#define _GNU_SOURCE
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
static const char *S,*D; static int MODE; static int next_dir=0; static char names[300][16]; static int nd;
static int cmpint(const void*a,const void*b){return *(int*)a-*(int*)b;}
static void *worker(void*arg){
  unshare(CLONE_FILES);
  int pend[256]; int np=0;
  for(;;){int i=__atomic_fetch_add(&next_dir,1,__ATOMIC_SEQ_CST); if(i>=nd)break;
    char p[512]; snprintf(p,512,"%s/%s",S,names[i]); int sd=open(p,O_RDONLY|O_DIRECTORY);
    snprintf(p,512,"%s/%s",D,names[i]); mkdir(p,0755); int dd=open(p,O_RDONLY|O_DIRECTORY);
    DIR*dir=fdopendir(dup(sd)); struct dirent*e;
    while((e=readdir(dir))){ if(e->d_name[0]=='.')continue;
      int s=openat(sd,e->d_name,O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC); struct stat st; fstat(s,&st);
      int d=openat(dd,e->d_name,O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC,st.st_mode&0777);
      copy_file_range(s,0,d,0,st.st_size,0);
      if(MODE==0){close(s);close(d);} else {pend[np++]=s;pend[np++]=d; if(np>=128){
        qsort(pend,np,sizeof(int),cmpint); int a=0; for(int k=1;k<=np;k++){ if(k==np||pend[k]!=pend[k-1]+1){syscall(SYS_close_range,pend[a],pend[k-1],0);a=k;} } np=0; }}
    }
    if(np){qsort(pend,np,sizeof(int),cmpint); int a=0; for(int k=1;k<=np;k++){ if(k==np||pend[k]!=pend[k-1]+1){syscall(SYS_close_range,pend[a],pend[k-1],0);a=k;} } np=0;}
    closedir(dir); close(sd); close(dd);
  }
  return 0;}
int main(int c,char**v){S=v[1];D=v[2];MODE=atoi(v[3]); mkdir(D,0755);
  DIR*d=opendir(S);struct dirent*e;while((e=readdir(d)))if(e->d_name[0]!='.')strcpy(names[nd++],e->d_name);
  pthread_t t[2];for(int i=0;i<2;i++)pthread_create(&t[i],0,worker,0);for(int i=0;i<2;i++)pthread_join(t[i],0);}
