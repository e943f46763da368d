# thread-states.py PID: samples every thread of PID (state and wchan) every 0.5 ms until it exits; prints the counts.
import os, sys, time, collections
pid = int(sys.argv[1]); c = collections.Counter(); n=0
while os.path.exists(f"/proc/{pid}/stat"):
    try:
        st=open(f"/proc/{pid}/stat").read().split(")")[1].split()[0]
        if st == 'Z': break
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                comm=open(f"/proc/{pid}/task/{t}/comm").read().strip()
                s=open(f"/proc/{pid}/task/{t}/stat").read().split(")")[1].split()[0]
                w=open(f"/proc/{pid}/task/{t}/wchan").read().strip()
            except OSError: continue
            if comm.startswith("iou-wrk"): comm="iou-wrk"
            c[(comm,s,w)]+=1
        n+=1
    except OSError: break
    time.sleep(0.0005)
print("samples",n)
for k,v in c.most_common(25): print(v, *k)
