#!/usr/bin/env python3
"""Writes datasets/manifest.json: every file of every dataset folder of the data directory, with
its sha256 (from the folder's SHA256SUMS, checked against the file) and where it comes from
(read from the folder's SOURCES.md).

    python3 scripts/gen_dataset_manifest.py [--data-dir ../shared/datasets] [--out datasets/manifest.json]

SOURCES.md is prose written by people, so the source of a file is read by these rules, in order:
  1. a bullet whose bold label names the file (`**test.jsonl**`, `**deepseek_llm_graded_outputs/*.csv**`)
     or whose backticked path ends in the file's name gives that bullet's repository;
  2. else the folder's main source bullet (`**Source**`, `**Copied from**`, `**Where the raw files
     came from**`), in that order of preference.
A bullet that names no repository ("from the same commit") takes the last repository named
before it. `**Canonical location**` / `**Official data**` give the dataset's official home.
Re-run this after the data directory changes and review the diff.
"""
import argparse
import fnmatch
import gzip
import hashlib
import json
import os
import re
import sys

# `owner/repo@commit` (a shortened commit may end in an ellipsis), or `owner/repo` followed
# within the same clause by commit `sha`.
REPO_AT_COMMIT = re.compile(r"`([\w.-]+/[\w.-]+)@([0-9a-f]{7,40})…?`")
REPO_THEN_COMMIT = re.compile(r"`([\w.-]+/[\w.-]+)`[^`]{0,120}?commit `([0-9a-f]{40})`")
BARE_REPO = re.compile(r"`([\w.-]+/[\w.-]+)`")
BACKTICKED = re.compile(r"`([^`]+)`")
BOLD = re.compile(r"\*\*(.+?)\*\*")
MAIN_SOURCE_LABELS = ["Source", "Copied from", "Where the raw files came from", "This copy"]
CANONICAL_LABELS = ["Canonical location", "Official data"]
REPO_LIKE = re.compile(r"[\w-]+/[\w-]+")
# Files that describe the data directory itself rather than being copied from anywhere.
LOCAL_FILES = {"SOURCES.md"}
# Where the prose can't be read by the rules above; each says why.
OVERRIDES = {
    # "MIT (OpenAI, prm800k `LICENSE`, copied)": the repository is named only in another bullet.
    "math500/LICENSE": {
        "source": "openai/prm800k@7ecc794703b2877f63226f2477a49b34f9b25163:LICENSE",
        "source_url": "https://github.com/openai/prm800k/blob/7ecc794703b2877f63226f2477a49b34f9b25163/LICENSE",
    },
}


def expand_braces(pattern):
    """`a/{x,y}.json` -> [`a/x.json`, `a/y.json`] (one level per brace group, nested ones too)."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    out = []
    for alt in m.group(1).split(","):
        out += expand_braces(pattern[: m.start()] + alt + pattern[m.end():])
    return out


def bullets(text):
    """Top-level and nested `* ` bullets of a markdown file, each with its continuation lines."""
    items, cur = [], None
    for line in text.splitlines():
        if re.match(r"^\s*\* ", line):
            cur = [line.strip()[2:]]
            items.append(cur)
        elif cur is not None and line.startswith("  ") and line.strip():
            cur.append(line.strip())
        else:
            cur = None
    return [" ".join(parts) for parts in items]


def repo_in(bullet):
    """(repo, commit or None, is_hugging_face) of the first repository the bullet names."""
    hits = []
    for rx in (REPO_AT_COMMIT, REPO_THEN_COMMIT):
        hits += [(m.start(), m.group(1), m.group(2)) for m in rx.finditer(bullet)]
    if not hits:
        hits = [(m.start(), m.group(1), None) for m in BARE_REPO.finditer(bullet)]
    # `mbpp/mbpp.jsonl` is a file, not a repository (`owner/owner.github.io` is one).
    hits = [h for h in hits if ("." not in h[1].split("/")[-1] or h[1].endswith(".github.io")) and "*" not in h[1]]
    if not hits:
        return None
    start, repo, commit = min(hits)
    return repo, commit, "Hugging Face" in bullet[max(0, start - 40):start]


def path_in(bullet, relpath):
    """The upstream path in the bullet that this file was copied from, or None."""
    name = os.path.basename(relpath)
    for token in BACKTICKED.findall(bullet):
        if re.fullmatch(r"[0-9a-f]{40}", token) or "@" in token or " " in token:
            continue
        for cand in expand_braces(token):
            if cand.endswith("/") and "/" in cand[:-1]:   # an upstream folder: the file keeps its name
                return cand + name
            base = os.path.basename(cand)
            if base in (name, name[:-3] if name.endswith(".gz") else name):
                return cand
            # `data/test/*.csv` names test/x.csv: compare the pattern's last components with the path.
            cand_tail = "/".join(cand.split("/")[-len(relpath.split("/")):])
            if "*" in base and fnmatch.fnmatch(relpath, cand_tail):
                return os.path.dirname(cand) + "/" + name
    return None


def first_path_in(bullet):
    """The first backticked upstream file path in the bullet (not a repository, not a commit)."""
    for token in BACKTICKED.findall(bullet):
        last = token.rstrip("/").split("/")[-1]
        if "/" in token and "@" not in token and " " not in token and "." in last and not REPO_LIKE.fullmatch(token):
            return token
    return None


def label_of(bullet):
    m = re.match(r"\*\*([^*]+)\*\*", bullet)
    return m.group(1).strip().rstrip(":") if m else ""


def names_file(bullet, relpath):
    """A bold label or bold token in the bullet names this file (a path, a name, or a glob)."""
    for token in BOLD.findall(bullet):
        token = token.strip().rstrip(":")
        if token == relpath or token == os.path.basename(relpath) or (
                "*" in token and fnmatch.fnmatch(relpath, token)):
            return True
    return False


def url_for(repo, commit, path, hugging_face):
    if hugging_face:
        return f"https://huggingface.co/datasets/{repo}"
    ref = commit or "HEAD"
    if path and not re.search(r"[{<*]", path):   # a pattern names many files: link the tree
        return f"https://github.com/{repo}/blob/{ref}/{path.rstrip('/')}"
    return f"https://github.com/{repo}/tree/{ref}"


def describe(found):
    repo, commit, path, hf = found
    where = repo + (f"@{commit}" if commit else "") + (f":{path}" if path else "")
    return ("Hugging Face " if hf else "") + where


def dataset_sources(folder, files):
    text = open(os.path.join(folder, "SOURCES.md"), encoding="utf-8").read()
    items = bullets(text)
    # The repository each bullet refers to, inheriting the previous one for "the same commit".
    resolved, last = [], None
    for b in items:
        r = repo_in(b)
        if r and r[1] is None and last and last[0] == r[0]:
            r = (r[0], last[1], r[2])   # the same repository named again without its commit
        if r:
            last = r
        resolved.append((b, r or last))

    def main_source():
        for label in MAIN_SOURCE_LABELS:
            for b, r in resolved:
                if label_of(b).startswith(label) and repo_in(b):
                    return b, r
        return None

    canonical = None
    for b, _ in resolved:
        if any(label_of(b).startswith(label) for label in CANONICAL_LABELS):
            r = repo_in(b)
            if r:
                canonical = url_for(r[0], r[1], None, r[2])
                break

    main = main_source()
    out = {}
    for rel in files:
        hit, path = None, None
        for i, (b, r) in enumerate(resolved):
            if names_file(b, rel):
                # A bullet that only introduces sub-bullets ("... from:") takes the first of them.
                if not repo_in(b) and b.rstrip().endswith(":") and i + 1 < len(resolved):
                    b, r = resolved[i + 1]
                hit, path = (b, r), path_in(b, rel) or first_path_in(b)
                break
        if hit is None:
            # An unlabelled, main-source or licence bullet that names the upstream path.
            for b, r in resolved:
                label = label_of(b)
                main_label = any(label.startswith(l) for l in MAIN_SOURCE_LABELS)
                licence = label.startswith("Licen") and os.path.basename(rel) in BACKTICKED.findall(b)
                if r and (main_label or licence) and path_in(b, rel):
                    hit, path = (b, r), path_in(b, rel)
                    break
        if hit is None and main:
            # Not named anywhere: the folder's main source, with the upstream `path` it names
            # (the archive or the raw files the folder was made from).
            named = re.search(r"path `([^`]+)`", main[0])
            hit, path = main, path_in(main[0], rel) or (named.group(1) if named else None)
        entry = {"source": "", "source_url": ""}
        if f"{os.path.basename(folder)}/{rel}" in OVERRIDES:
            entry = dict(OVERRIDES[f"{os.path.basename(folder)}/{rel}"])
        elif rel in LOCAL_FILES:
            entry["source"] = "written with this data directory; describes the folder's sources"
        elif hit and hit[1]:
            repo, commit, hf = hit[1]
            entry = {"source": describe((repo, commit, path, hf)), "source_url": url_for(repo, commit, path, hf)}
        elif canonical:
            entry = {"source": canonical, "source_url": canonical}
        if canonical and canonical != entry["source_url"]:
            entry["canonical_url"] = canonical
        out[rel] = entry
    return out


def sha256_of(path):
    """Of the file's content; a file stored gzip-compressed as NAME.gz is hashed uncompressed."""
    h = hashlib.sha256()
    opener = open
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        opener, path = gzip.open, path + ".gz"
    size = 0
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=os.path.join(here, "..", "..", "shared", "datasets"))
    ap.add_argument("--out", default=os.path.join(here, "..", "datasets", "manifest.json"))
    args = ap.parse_args()

    files = {}
    for name in sorted(os.listdir(args.data_dir)):
        folder = os.path.join(args.data_dir, name)
        sums = os.path.join(folder, "SHA256SUMS")
        if not os.path.isfile(sums):
            continue
        listed = {}
        for line in open(sums, encoding="utf-8"):
            if line.strip():
                digest, rel = line.rstrip("\n").split(None, 1)
                listed[rel.lstrip("*")] = digest
        sources = dataset_sources(folder, sorted(listed))
        for rel, digest in sorted(listed.items()):
            path = os.path.join(folder, rel)
            actual, size = sha256_of(path)
            if actual != digest:
                sys.exit(f"{path}: sha256 {actual} differs from {sums} ({digest})")
            files[f"{name}/{rel}"] = {"sha256": digest, "bytes": size, **sources[rel]}

    manifest = {
        "_about": "Every file of every dataset folder: sha256 of the bytes its SHA256SUMS names (a file "
                  "listed as NAME.gz is hashed compressed; one listed as NAME but stored as NAME.gz is hashed "
                  "uncompressed, as newer folders do) and where it was copied from. Generated by scripts/gen_dataset_manifest.py "
                  "from each folder's SHA256SUMS and SOURCES.md; regenerate, don't edit.",
        "files": files,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{args.out}: {len(files)} files", file=sys.stderr)


if __name__ == "__main__":
    main()
