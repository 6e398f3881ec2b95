#!/usr/bin/env python3
"""docs/fleets.md's Kubernetes recipe, as far as a machine without a
cluster can check it: the Job manifest parses as YAML and is an Indexed Job
whose completions, parallelism and `--shard $JOB_COMPLETION_INDEX/N` agree;
each shard writes its own --jsonl file on the results volume, which the
merge command that follows reads; the shard's shell command parses (sh -n);
the hosts file and the SSH key come from the volumes the manifest mounts.
Usage: fleets_k8s.py FLEETS_MD"""
import re
import subprocess
import sys
from pathlib import Path

try:
    import yaml
except ImportError:
    print("SKIP: no python3 yaml module (bash .ci/deps installs python3-yaml)")
    sys.exit(77)


def blocks(text, language):
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.S | re.M)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    text = Path(sys.argv[1]).read_text()
    failures = []

    def check(what, condition):
        print(("ok: " if condition else "FAIL: ") + what)
        if not condition:
            failures.append(what)
        return condition

    jobs = [doc for block in blocks(text, "yaml") for doc in yaml.safe_load_all(block)
            if isinstance(doc, dict) and doc.get("kind") == "Job"]
    if not check("one Job manifest in a ```yaml block", len(jobs) == 1):
        return 1
    job = jobs[0]
    spec = job["spec"]
    pod = spec["template"]["spec"]
    check("apiVersion batch/v1", job.get("apiVersion") == "batch/v1")
    check("completionMode: Indexed", spec.get("completionMode") == "Indexed")
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    check("completions and parallelism are numbers, 1 <= parallelism <= completions",
          isinstance(completions, int) and isinstance(parallelism, int) and 1 <= parallelism <= completions)
    check("restartPolicy: Never", pod.get("restartPolicy") == "Never")
    (container,) = pod["containers"]
    command = container["command"]
    check("the command is sh -c SCRIPT", command[:2] == ["sh", "-c"] and len(command) == 3)
    script = command[2]
    check("sh -n accepts the script", subprocess.run(["sh", "-n", "-c", script]).returncode == 0)

    shard = re.search(r"--shard \$JOB_COMPLETION_INDEX/(\d+)\b", script)
    check("--shard $JOB_COMPLETION_INDEX/N with N = completions",
          shard is not None and int(shard.group(1)) == completions)
    check("--jsonl", re.search(r"(^|\s)--jsonl(\s|$)", script) is not None)
    check("every pod ends well ('; true'), so that none is started again", script.rstrip().endswith("; true"))
    output = re.search(r">\s*([^\s;]*\$JOB_COMPLETION_INDEX[^\s;]*)", script)
    check("each shard writes its own file, named by $JOB_COMPLETION_INDEX", output is not None)
    hosts = re.search(r"-h\s+(\S+)", script)
    check("a hosts file (-h)", hosts is not None)

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: volumes.get(m["name"]) for m in container.get("volumeMounts", [])}
    check("every volumeMount names a volume", all(v is not None for v in mounts.values()))

    def volume_of(path):
        found = [(mount, v) for mount, v in mounts.items() if path.startswith(mount.rstrip("/") + "/")]
        return max(found, key=lambda pair: len(pair[0]))[1] if found else None

    if hosts:
        check("the hosts file is on a ConfigMap volume", "configMap" in (volume_of(hosts.group(1)) or {}))
    if output:
        results = output.group(1)
        check("the results are on a PersistentVolumeClaim", "persistentVolumeClaim" in (volume_of(results) or {}))
    ssh = mounts.get("/root/.ssh")
    check("the SSH key and known_hosts: a Secret at /root/.ssh, readable by its owner alone",
          ssh is not None and "secret" in ssh and ssh["secret"].get("defaultMode") == 0o400)

    # The merge that follows reads what the shards wrote.
    merges = [line for block in blocks(text, "sh") for line in block.splitlines() if "--merge" in line
              and "JOB_COMPLETION_INDEX" not in line and "/results/" in line]
    check("one merge command reads the results volume", len(merges) == 1)
    if merges and output:
        files = re.search(r"--merge\s+(\S+)", merges[0]).group(1)
        written = results.replace("$JOB_COMPLETION_INDEX", "*")
        check(f"the merge reads {files}: the shards' {written}", files == written)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
