"""Example.EC2.SecurityGroup.NoWorldSSH, decorator style, with a helper shared by the policy
and its failure message."""

from palisade_policy import rule

_SSH = 22


def _is_int(value):
    return type(value) is int  # not bool, not float


def _covers_ssh(permission):
    protocol = permission.get("IpProtocol")
    if protocol == "-1":
        return True
    if protocol not in ("tcp", "6"):
        return False
    low, high = permission.get("FromPort"), permission.get("ToPort")
    return _is_int(low) and _is_int(high) and low <= _SSH <= high


def _world_cidr(permission):
    """The first world-open CIDR of a permission (IPv4 ranges before IPv6), or None."""
    for r in permission.get("IpRanges") or ():
        if isinstance(r, dict) and r.get("CidrIp") == "0.0.0.0/0":
            return "0.0.0.0/0"
    for r in permission.get("Ipv6Ranges") or ():
        if isinstance(r, dict) and r.get("CidrIpv6") == "::/0":
            return "::/0"
    return None


def world_ssh(resource):
    """The world CIDR of the first permission that opens SSH to the world, or None."""
    for permission in resource.get("IpPermissions") or ():  # null means none
        if isinstance(permission, dict) and _covers_ssh(permission):
            cidr = _world_cidr(permission)
            if cidr is not None:
                return cidr
    return None


def _message(resource):
    name = resource.get("Name")
    name = name if isinstance(name, str) else ""
    return f"security group {name} allows SSH from {world_ssh(resource)}"


@rule(
    id="Example.EC2.SecurityGroup.NoWorldSSH",
    severity="high",
    resource_types=["AWS.EC2.SecurityGroup"],
    title="Security group does not open SSH to the internet",
    description="SSH open to 0.0.0.0/0 or ::/0 exposes every instance in the group to brute "
    "force and to any SSH vulnerability.",
    remediation="Restrict the inbound rule to known addresses, or use SSM Session Manager.",
    references=[
        "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html",
    ],
    compliance=["CIS-AWS-7.0:6.3", "CIS-AWS-7.0:6.4"],
    message=_message,
)
def no_world_ssh(resource) -> bool:
    return world_ssh(resource) is None
