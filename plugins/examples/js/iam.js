// Example.IAM.User.ConsoleMFA: users who can sign in to the console have MFA.
rule({
  id: "Example.IAM.User.ConsoleMFA",
  title: "IAM user with a console password has MFA",
  severity: "medium",
  resourceTypes: ["AWS.IAM.User"],
  description:
    "A user who can sign in to the AWS console with a password alone is one leaked password away " +
    "from an account takeover.",
  remediation: "Enable a virtual or hardware MFA device for the user, or remove the console password.",
  references: ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable.html"],
  message: (user) => `user ${typeof user.Name === "string" ? user.Name : ""} can sign in to the console without MFA`,
}, (user) => {
  const report = user.CredentialReport; // null: the user has no credential report row
  if (report === null || report === undefined) return true;
  if (typeof report !== "object" || Array.isArray(report)) throw new TypeError("CredentialReport is not an object");
  return !(report.PasswordEnabled === true && report.MfaActive !== true);
});
