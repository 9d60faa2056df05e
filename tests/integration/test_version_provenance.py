"""A version published from a checkout with uncommitted changes says so: its description names
the commit and '(dirty)', never the commit alone."""

from __future__ import annotations

import subprocess

GIT = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.com"}


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env={**GIT, "PATH": "/usr/bin:/bin",
                                                                                   "HOME": str(root)})


def test_published_version_says_dirty_when_the_checkout_is(project):
    git(project.root, "init", "-q", "-b", "main")
    (project.root / ".gitignore").write_text(".agentrun/\n.env*\n")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "start")
    assert project.invoke("deploy").returncode == 0
    clean = project.invoke_json("version.publish")
    assert "commit " in clean["description"]
    assert "dirty" not in clean["description"]
    app = project.root / "code" / "app.py"
    app.write_text(app.read_text() + "\n# an uncommitted change\n")
    dirty = project.invoke_json("version.publish")
    assert "(dirty)" in dirty["description"]
