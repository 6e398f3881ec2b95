#!/usr/bin/env python3
"""docs/fleets.md's Slurm recipe on a real one-node Slurm cluster.

Starts munged, slurmctld and slurmd (Debian 12's slurm-wlm) with their own
configuration, key and state in a temporary directory, and a throwaway
OpenSSH sshd on loopback serving the hosts 127.0.0.2-11. Takes the block
marked "# slurm-recipe: submit" from docs/fleets.md and runs it as it
stands, in a directory holding hosts.txt, with COMMAND, PATH (this build's
pssh), HOME (the ssh key, known_hosts and ~/.ssh/config) and SLURM_CONF in
its environment. Then:
  1. the merge job's run.json equals one direct run of every host byte for
     byte, and the merge job's exit status is that run's;
  2. with array task 1 cancelled (scancel <array>_1) while its hosts'
     commands run, pssh (the task's only process: the recipe's exec) gets
     TERM and reports those hosts as cancelled: run.json holds every host,
     the merge job's status is 3;
  3. with array task 1 killed (scancel --batch --signal=KILL <array>_1, as
     the OOM killer or a lost node would) while its hosts' commands run,
     they have no result: the merge job fails with status 1 and --merge's
     message naming their places, and run.json holds the other hosts.
Every daemon is stopped by its pid, and the directory removed, whatever
happens. Exits 77 (a skip) when it cannot run here: not root, or a program
missing. Usage: slurm_test.py PSSH FLEETS_MD"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SLURM = ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue", "scontrol", "scancel")
SSH = ("/usr/sbin/sshd", "ssh-keygen")
HOSTS = [f"127.0.0.{i}" for i in range(2, 12)]  # and a refused one: 11 hosts in 4 shards


class Failure(Exception):
    pass


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, ready, seconds, logs=()):
    """Polls ready() until it is true; Failure (with the logs: paths, or a
    function giving them) after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = ready()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = logs() if callable(logs) else logs
            text = "".join(f"\n--- {log}:\n{Path(log).read_text(errors='replace')[-3000:]}"
                           for log in logs if Path(log).exists())
            raise Failure(f"{what}: not within {seconds} s{text}")
        time.sleep(0.1)


def recipe(fleets_md, mark):
    """The ```sh block of fleets_md holding the line `mark`."""
    found = re.findall(r"^```sh\n(.*?)^```$", Path(fleets_md).read_text(), re.S | re.M)
    found = [block for block in found if mark in block.splitlines()]
    if len(found) != 1:
        raise Failure(f"{fleets_md}: {len(found)} ```sh blocks hold the line '{mark}', not 1")
    return found[0]


class Rig:
    """The daemons, each a child of this process, stopped by pid."""

    def __init__(self, top):
        self.top = top
        self.children = []  # (name, Popen)
        self.env = dict(os.environ)

    def spawn(self, name, argv, log, env=None):
        out = open(log, "ab")
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   env=env if env is not None else self.env, start_new_session=True)
        out.close()
        self.children.append((name, process))
        return process

    def alive(self, name, process, log):
        if process.poll() is not None:
            raise Failure(f"{name} ended with status {process.returncode}:\n" +
                          Path(log).read_text(errors="replace")[-3000:])

    def munge(self):
        d = self.top / "munge"
        d.mkdir(mode=0o755)  # munged wants its socket's directory executable by all
        key = d / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.munge_socket = d / "munge.socket"
        log = self.top / "munged.log"
        p = self.spawn("munged", ["munged", "--foreground", f"--socket={self.munge_socket}",
                                  f"--key-file={key}", f"--pid-file={d / 'munged.pid'}",
                                  f"--log-file={log}", f"--seed-file={d / 'munged.seed'}"], log)
        wait_for("munged's socket", lambda: self.alive("munged", p, log) or self.munge_socket.exists(), 10)

    def slurm(self):
        conf = self.top / "slurm.conf"
        for d in ("state", "spool", "logs"):
            (self.top / d).mkdir()
        # This machine as slurmd -C sees it: its name, CPUs and memory.
        node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
        node = next(line for line in node.splitlines() if line.startswith("NodeName="))
        name = node.split()[0].split("=", 1)[1]
        # On loopback, whatever the machine's name resolves to.
        conf.write_text(f"""ClusterName=pssh-test
SlurmctldHost={name}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
CredType=cred/munge
StateSaveLocation={self.top / 'state'}
SlurmdSpoolDir={self.top / 'spool'}
SlurmctldPidFile={self.top / 'slurmctld.pid'}
SlurmdPidFile={self.top / 'slurmd.pid'}
SlurmctldLogFile={self.top / 'logs' / 'slurmctld.log'}
SlurmdLogFile={self.top / 'logs' / 'slurmd.log'}
# No systemd, no cgroups: processes found through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
KillWait=10
{node.split(' UpTime=')[0]} NodeAddr=127.0.0.1
# The four shards at once on two CPUs.
PartitionName=test Nodes={name} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
""")
        self.env["SLURM_CONF"] = str(conf)
        logs = [self.top / "logs" / "slurmctld.log", self.top / "logs" / "slurmd.log"]
        ctld = self.spawn("slurmctld", ["slurmctld", "-D", "-f", str(conf)], self.top / "slurmctld.out")
        d = self.spawn("slurmd", ["slurmd", "-D", "-f", str(conf)], self.top / "slurmd.out")

        def idle():
            self.alive("slurmctld", ctld, self.top / "slurmctld.out")
            self.alive("slurmd", d, self.top / "slurmd.out")
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=self.env)
            return state.stdout.strip() == "idle"
        wait_for("the Slurm node idle", idle, 30, logs)

    def sshd(self):
        d = self.top / "sshd"
        d.mkdir()
        (d / "home").mkdir()  # the sessions' HOME: empty
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
        self.port = free_port()
        (d / "sshd_config").write_text(f"""ListenAddress 0.0.0.0:{self.port}
HostKey {d / 'host_key'}
PidFile {d / 'sshd.pid'}
AuthorizedKeysFile {d / 'authorized_keys'}
AllowUsers *@127.0.0.0/8
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 100
LogLevel ERROR
SetEnv HOME={d / 'home'}
""")
        log = d / "sshd.log"
        p = self.spawn("sshd", ["/usr/sbin/sshd", "-D", "-f", str(d / "sshd_config"), "-E", str(log)], log)

        def listening():
            self.alive("sshd", p, log)
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        wait_for("sshd listening", listening, 10, [log])

        # The user's side: what a cluster's shared home holds.
        home = self.top / "home"
        ssh = home / ".ssh"
        ssh.mkdir(parents=True, mode=0o700)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh / "id_ed25519")], check=True)
        shutil.copy(ssh / "id_ed25519.pub", d / "authorized_keys")
        host_key = (d / "host_key.pub").read_text().split()[:2]
        (ssh / "known_hosts").write_text(
            "".join(f"[{host}]:{self.port} {' '.join(host_key)}\n" for host in HOSTS))
        (ssh / "config").write_text(f"Host 127.*\n  Port {self.port}\n  GSSAPIAuthentication no\n")
        self.env["HOME"] = str(home)

    def stop(self):
        # Jobs first, so that no slurmstepd outlives its slurmd.
        if "SLURM_CONF" in self.env:
            try:
                subprocess.run(["scancel", "--full", "--user", "root"], env=self.env, timeout=10,
                               capture_output=True)
                wait_for("the queue empty", lambda: not self.queue(), 20)
            except Exception as e:  # noqa: BLE001: the daemons are stopped anyway
                print(f"cleanup: {e}", file=sys.stderr)
        for name, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        # A slurmstepd left behind (it is no child of slurmd's): those that
        # carry this cluster's SLURM_CONF in their environment, no other.
        mine = f"SLURM_CONF={self.env.get('SLURM_CONF', '/nonexistent')}".encode()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and int(proc.name) != os.getpid():
                try:
                    if mine in (proc / "environ").read_bytes().split(b"\0"):
                        os.kill(int(proc.name), signal.SIGKILL)
                        print(f"cleanup: killed {proc.name}, {(proc / 'cmdline').read_bytes()!r}")
                except OSError:
                    pass

    def queue(self):
        out = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, env=self.env)
        return out.stdout.strip()

    def job(self, job_id):
        """scontrol's fields of a job (its first line for an array)."""
        out = subprocess.run(["scontrol", "-o", "show", "job", str(job_id)], capture_output=True,
                             text=True, env=self.env).stdout
        line = out.splitlines()[0] if out.strip() else ""
        return dict(field.split("=", 1) for field in line.split() if "=" in field)

    def finished(self, job_id):
        state = self.job(job_id).get("JobState")
        return state if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
                                  "OUT_OF_MEMORY") else None


def submit(rig, work, command, fleets_md):
    """Runs the recipe in `work`; returns (array job, merge job)."""
    env = dict(rig.env, COMMAND=command)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", recipe(fleets_md, "# slurm-recipe: submit")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise Failure(f"the recipe failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    ids = re.fullmatch(r"shards: job (\d+), merge: job (\d+)\n", done.stdout)
    if not ids:
        raise Failure("the recipe printed " + repr(done.stdout))
    return ids.group(1), ids.group(2)


def wait_merge(rig, merge, work):
    logs = [rig.top / "logs" / "slurmctld.log", rig.top / "logs" / "slurmd.log"]
    state = wait_for(f"merge job {merge} finished", lambda: rig.finished(merge), 60,
                     lambda: logs + sorted(work.glob("slurm-*.out")))
    exit_code = rig.job(merge)["ExitCode"]  # status:signal
    return state, exit_code, (work / f"slurm-{merge}.out").read_text()


def cancel_shard_1(rig, top, hosts, shard_1, fleets_md, name, scancel):
    """Runs the recipe where shard 1's hosts wait until the end, cancels
    array task 1 (scancel [scancel...] <array>_1) once they all run; returns
    ((the merge job's messages, state, exit code), run.json)."""
    work = top / name
    work.mkdir()
    (work / "hosts.txt").write_text(hosts)
    marks = top / (name + "-marks")
    marks.mkdir()
    # Shard 1's hosts mark that they run, then wait for the release (given
    # below whatever happens), 60 s at most; the other hosts answer.
    release = top / (name + "-release")
    command = ('a=$(echo $SSH_CONNECTION | cut -d" " -f3); case $a in ' + "|".join(shard_1) +
               f') touch {marks}/$a; i=0; while [ ! -e {release} ] && [ $i -lt 600 ]; do sleep 0.1; '
               'i=$((i + 1)); done;; esac; echo "$a says hi"')
    try:
        array, merge = submit(rig, work, command, fleets_md)
        wait_for(f"shard 1's hosts ({', '.join(shard_1)}) running the command",
                 lambda: sorted(p.name for p in marks.iterdir()) == sorted(shard_1), 30,
                 lambda: sorted(work.glob("slurm-*.out")))
        subprocess.run(["scancel"] + scancel + [f"{array}_1"], env=rig.env, check=True, timeout=10)
        state, exit_code, log = wait_merge(rig, merge, work)
    finally:
        release.touch()
    task = rig.job(f"{array}_1")
    check(f"array task {array}_1 {name}: {task.get('JobState')} {task.get('ExitCode')}",
          task.get("JobState") in ("CANCELLED", "FAILED"), str(task))
    return (log, state, exit_code), json.loads((work / "run.json").read_text())


def check(what, condition, details=""):
    if not condition:
        raise Failure(what + ("\n" + details if details else ""))
    print("ok: " + what)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    pssh, fleets_md = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    if os.geteuid() != 0:
        skip("not root: slurmd starts jobs as their user and sshd logs users in only as root "
             "(bash .ci/root meson test ...)")
    os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"  # the daemons
    missing = [p for p in SLURM + SSH if shutil.which(p) is None]
    if missing:
        skip("not installed: " + ", ".join(missing) + " (bash .ci/deps installs slurm-wlm, munge, openssh-server)")

    top = Path(tempfile.mkdtemp(prefix="pssh-slurm-"))
    top.chmod(0o755)  # munged checks every directory above its socket
    rig = Rig(top)
    # A SIGTERM (meson's timeout) ends the run through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM"))
    try:
        start = time.monotonic()
        rig.munge()
        rig.slurm()
        rig.sshd()
        bin_dir = top / "bin"
        bin_dir.mkdir()
        (bin_dir / "pssh").symlink_to(pssh)
        rig.env["PATH"] = f"{bin_dir}:{rig.env.get('PATH', '/usr/bin:/bin')}"
        print(f"cluster and sshd up in {time.monotonic() - start:.1f} s")
        hosts = "".join(h + "\n" for h in HOSTS) + f"127.0.0.12:{free_port()}\n"  # refused

        # 1. The recipe's run.json is one direct run's --json, byte for byte.
        work = top / "run"
        work.mkdir()
        (work / "hosts.txt").write_text(hosts)
        command = ('a=$(echo $SSH_CONNECTION | cut -d" " -f3); echo "$a says hi"; '
                   'case $a in 127.0.0.5) echo warn >&2; exit 3;; esac')
        array, merge = submit(rig, work, command, fleets_md)
        state, exit_code, log = wait_merge(rig, merge, work)
        direct = subprocess.run(["pssh", "--json", "-t", "0", "-h", "hosts.txt", command], cwd=work,
                                env=rig.env, capture_output=True)
        merged = (work / "run.json").read_bytes()
        check("run.json equals one direct run's --json byte for byte", merged == direct.stdout,
              f"merged:\n{merged.decode(errors='replace')}\ndirect:\n{direct.stdout.decode(errors='replace')}"
              f"\nmerge job's log:\n{log}")
        results = json.loads(merged)
        check("11 hosts, one refused, one exiting 3",
              len(results) == 11 and [r["exit_code"] for r in results].count(3) == 1 and
              results[-1]["error_type"] is not None and results[0]["stdout"] == "127.0.0.2 says hi\n",
              merged.decode())
        check(f"the merge job's status is the direct run's ({direct.returncode})",
              direct.returncode != 0 and exit_code == f"{direct.returncode}:0" and state == "FAILED",
              f"merge job {merge}: {state} {exit_code}\n{log}")
        parts = sorted(work.glob("part-*.jsonl"))
        check("4 shards' files", [p.name for p in parts] == [f"part-{i}.jsonl" for i in range(4)])
        # part-1.jsonl has them as they finished: in list order by their places.
        shard_1 = sorted((json.loads(line) for line in (work / "part-1.jsonl").read_text().splitlines()),
                         key=lambda result: result["index"])
        places = f"[{shard_1[0]['index']}-{shard_1[-1]['index']}]"  # as --merge folds them
        shard_1 = [result["host"] for result in shard_1]

        # 2. One array task cancelled (TERM) while its hosts' commands run:
        # pssh, the task's only process (exec), reports them as cancelled.
        log, merged = cancel_shard_1(rig, top, hosts, shard_1, fleets_md, "cancelled", [])
        check("run.json holds all 11 hosts, shard 1's cancelled, and the merge job's status is 3",
              [r["alias"] for r in merged] == HOSTS + ["127.0.0.12"] and
              [r["host"] for r in merged if r["error_type"] == "Cancelled"] == shard_1 and
              all(r["error"].endswith(" was cancelled; it was sent TERM") for r in merged if r["host"] in shard_1) and
              log == ("", "FAILED", "3:0"), f"{log}\n{merged}")

        # 3. One array task killed (KILL, as a node lost would) while its
        # hosts' commands run: they have no result, and --merge says so.
        log, merged = cancel_shard_1(rig, top, hosts, shard_1, fleets_md, "killed", ["--batch", "--signal=KILL"])
        message = (f"pssh: --merge: no result for the hosts at places {places} of the host list "
                   "(counted from 0): did a shard not finish?\n")
        check("the merge job fails with status 1 and names the hosts without a result",
              log == (message, "FAILED", "1:0"), str(log))
        check("run.json holds the other shards' 8 hosts, in list order",
              [r["alias"] for r in merged] == [h for h in HOSTS if h not in shard_1] + ["127.0.0.12"],
              str([r["alias"] for r in merged]))
        print(f"done in {time.monotonic() - start:.1f} s")
        return 0
    except Failure as e:
        print("FAIL: " + str(e))
        return 1
    finally:
        rig.stop()
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
