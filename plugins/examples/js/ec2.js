// Example.EC2.SecurityGroup.NoWorldSSH: no inbound permission opens SSH (port 22) to the internet.

const SSH = 22;

// A permission covers SSH with IpProtocol -1 (every protocol and port), or tcp/6 with a port
// range FromPort..ToPort (both present) that includes 22.
function coversSsh(permission) {
  const protocol = permission.IpProtocol;
  if (protocol === "-1") return true;
  if (protocol !== "tcp" && protocol !== "6") return false;
  const { FromPort: from, ToPort: to } = permission;
  return Number.isInteger(from) && Number.isInteger(to) && from <= SSH && SSH <= to;
}

// The first world-open CIDR of a permission, IPv4 ranges before IPv6, or null.
function worldCidr(permission) {
  for (const range of permission.IpRanges ?? []) {
    if (range?.CidrIp === "0.0.0.0/0") return "0.0.0.0/0";
  }
  for (const range of permission.Ipv6Ranges ?? []) {
    if (range?.CidrIpv6 === "::/0") return "::/0";
  }
  return null;
}

// The world CIDR of the first permission that opens SSH to the world, or null. Shared by the
// policy and its failure message. IpPermissions null means no permissions.
function worldSsh(group) {
  for (const permission of group.IpPermissions ?? []) {
    if (permission === null || typeof permission !== "object" || !coversSsh(permission)) continue;
    const cidr = worldCidr(permission);
    if (cidr !== null) return cidr;
  }
  return null;
}

rule({
  id: "Example.EC2.SecurityGroup.NoWorldSSH",
  title: "Security group does not open SSH to the internet",
  severity: "high",
  resourceTypes: ["AWS.EC2.SecurityGroup"],
  description:
    "A security group that accepts SSH from 0.0.0.0/0 or ::/0 exposes every attached instance to " +
    "password guessing and to any SSH vulnerability, from the whole internet.",
  remediation: "Restrict the inbound rule to known address ranges, or reach instances through Session Manager.",
  references: ["https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html"],
  compliance: ["CIS-AWS-7.0:6.3", "CIS-AWS-7.0:6.4"],
  message: (group) => `security group ${typeof group.Name === "string" ? group.Name : ""} allows SSH from ${worldSsh(group)}`,
}, (group) => worldSsh(group) === null);
