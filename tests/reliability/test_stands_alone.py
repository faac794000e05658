"""Kind 9 of issue 9: the product stands alone. No product file (code, docstrings, READMEs, scripts) points at
files outside the repository, such as the specification notes the project was written from."""

import os
import re

from tests.conftest import REPO

OUTSIDE = re.compile(r'\.\./shared|shared/spec|shared/cases|\.\./spec|DECISIONS\.md|STYLE\.md|openlth_behavior|§')
SKIPPED_FOLDERS = {'.git', '.venv', 'tests', '__pycache__', 'embedded'}
TEXT = ('.py', '.md', '.sh', '.toml', '.txt', '.cfg', '.yml', '.yaml')


def product_files():
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED_FOLDERS]
        for name in files:
            if name.endswith(TEXT) or folder.endswith('.ci'):
                yield os.path.join(folder, name)


def test_no_product_file_points_outside_the_repository():
    files = list(product_files())
    assert os.path.join(REPO, 'foundations', 'hparams.py') in files and os.path.join(REPO, 'README.md') in files
    offending = []
    for path in files:
        with open(path, encoding='utf-8', errors='replace') as f:
            for number, line in enumerate(f, 1):
                if OUTSIDE.search(line):
                    offending.append(f'{os.path.relpath(path, REPO)}:{number}: {line.strip()}')
    assert offending == []
