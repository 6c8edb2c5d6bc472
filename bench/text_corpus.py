"""A real text-classification corpus found on every Debian machine: the package index of apt
(the `Packages` file of the largest list under /var/lib/apt/lists, written by `apt-get update`,
which scripts/install-deps.sh runs). Each package is one document, its one-line description;
its label is its archive section with the area dropped ("contrib/games" -> "games"). Bookworm's
main amd64 index holds about 63,000 packages in 58 sections.

load() returns (texts, labels) in the index's order; tfidf() turns them into the benchmark's
features: scikit-learn's TfidfVectorizer over unigrams and bigrams (sublinear tf, terms in at
least 2 documents), fitted on the training part of a stratified, seeded split.
"""
import glob
import os
import shutil
import subprocess

LISTS = "/var/lib/apt/lists"


def index_path():
    found = [p for p in glob.glob(f"{LISTS}/*_binary-*_Packages*") if "-security_" not in p
             and "-updates_" not in p] or glob.glob(f"{LISTS}/*_binary-*_Packages*")
    if not found:
        raise SystemExit(f"text_corpus: no apt package index under {LISTS}; run apt-get update "
                         "(scripts/install-deps.sh does)")
    return max(found, key=os.path.getsize)


def index_text(path):
    """The index decompressed: apt's own helper reads every compression apt writes."""
    helper = "/usr/lib/apt/apt-helper"
    if os.path.exists(helper):
        return subprocess.run([helper, "cat-file", path], check=True, capture_output=True).stdout
    tool = {".lz4": "lz4", ".gz": "gzip", ".xz": "xz", ".zst": "zstd"}.get(os.path.splitext(path)[1])
    if tool is None:
        with open(path, "rb") as f:
            return f.read()
    if not shutil.which(tool):
        raise SystemExit(f"text_corpus: {path} needs {tool} to decompress")
    return subprocess.run([tool, "-dc", path], check=True, capture_output=True).stdout


def load():
    texts, labels = [], []
    for stanza in index_text(index_path()).decode("utf-8", "replace").split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        if "Description" in fields and "Section" in fields:
            texts.append(fields["Description"])
            labels.append(fields["Section"].rsplit("/", 1)[-1])
    return texts, labels


def tfidf(texts, labels, test_size=0.2, seed=0):
    """(x_train, x_test, y_train, y_test) as float64 CSR and label arrays."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    # A section with a single package cannot be stratified: it stays in training.
    names, counts = np.unique(labels, return_counts=True)
    rare = np.isin(labels, names[counts < 2])
    idx = np.arange(len(texts))
    train_i, test_i = train_test_split(idx[~rare], test_size=test_size, random_state=seed,
                                       stratify=labels[~rare])
    train_i = np.sort(np.concatenate([train_i, idx[rare]]))
    test_i = np.sort(test_i)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, dtype=np.float64)
    x_train = vec.fit_transform([texts[i] for i in train_i])
    x_test = vec.transform([texts[i] for i in test_i])
    return x_train, x_test, labels[train_i], labels[test_i]
