#!/usr/bin/env python3
"""Fails on an include that runs against the layers of lib/.

lib/'s folders are layers, lowest first; a file may include its own folder
and the folders below it, never one above. Public headers (include/pssh/)
include only public headers and name no `detail::` internals. Prints every offending include with its file
and line, and exits 1 if there is any.
"""
import pathlib
import re
import sys

LAYERS = ["base", "text", "config", "net", "ssh", "files", "engine"]
QUOTED = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
ANGLED = re.compile(r'^\s*#\s*include\s+<([^>]+)>')


def main(root: pathlib.Path) -> int:
    problems = []
    lib = root / "lib"
    for path in sorted(lib.rglob("*.[ch]pp")):
        folder = path.relative_to(lib).parts[0]
        if folder not in LAYERS:
            problems.append(f"{path.relative_to(root)}: not in a layer folder ({', '.join(LAYERS)})")
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = QUOTED.match(line)
            if not match:
                continue
            target = match.group(1).split("/")[0]
            where = f"{path.relative_to(root)}:{number}"
            if target not in LAYERS:
                problems.append(f"{where}: includes \"{match.group(1)}\", which is in no layer")
            elif LAYERS.index(target) > LAYERS.index(folder):
                problems.append(f"{where}: {folder}/ includes \"{match.group(1)}\" from {target}/, a higher layer;"
                                f" give {folder}/ a small interface instead")
    for path in sorted((root / "include" / "pssh").glob("*.hpp")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bdetail\b", line.split("//")[0]):
                problems.append(f"{path.relative_to(root)}:{number}: a public header names the library's internals"
                                f" (detail); declare an opaque type and a friend instead")
            if QUOTED.match(line):
                problems.append(f"{path.relative_to(root)}:{number}: a public header includes a private one")
            match = ANGLED.match(line)
            if match and match.group(1).split("/")[0] in ("libssh", "tbb", "oneapi"):
                problems.append(f"{path.relative_to(root)}:{number}: a public header includes <{match.group(1)}>")
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) against the layers {' -> '.join(LAYERS)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
