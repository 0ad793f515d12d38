"""The qemu driver: qcow2 disks on the host, cloud-init config drives, one QEMU per guest."""

from ecslite.drivers.qemu.driver import QemuDriver, QemuOptions

__all__ = ["QemuDriver", "QemuOptions"]
