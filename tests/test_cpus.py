"""The CPUs a process may use, and OpenMP's waiting chosen from what else is running."""

from __future__ import annotations

from attrmer.cpus import (
    PASSIVE_WAIT,
    available_cpus,
    cgroup_cpu_quota,
    choose_wait_policy,
    others_running,
)


def test_a_cgroup_quota_caps_the_cpus(tmp_path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(tmp_path) == 2  # 1.5 CPUs, rounded up
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path) == 1  # cgroup v1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_quota(tmp_path) is None
    assert cgroup_cpu_quota(tmp_path / "absent") is None
    assert available_cpus() >= 1


def test_others_running_leaves_this_thread_out(tmp_path) -> None:
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("2.55 2.69 2.51 3/110 31385\n")
    assert others_running(loadavg) == 2
    loadavg.write_text("garbage")
    assert others_running(loadavg) == 0


def test_openmp_sleeps_only_when_the_machine_is_busy(monkeypatch) -> None:
    import attrmer.cpus as cpus

    monkeypatch.setattr(cpus, "available_cpus", lambda: 2)
    monkeypatch.setattr(cpus, "others_running", lambda: 0)
    environ: dict[str, str] = {}
    assert choose_wait_policy(environ) is None and environ == {}
    monkeypatch.setattr(cpus, "others_running", lambda: 1)
    assert choose_wait_policy(environ) == "PASSIVE" and environ == PASSIVE_WAIT
    # A policy the user set is kept.
    environ = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert choose_wait_policy(environ) is None and environ == {"OMP_WAIT_POLICY": "ACTIVE"}
