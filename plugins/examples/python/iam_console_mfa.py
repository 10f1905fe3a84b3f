# Example.IAM.User.ConsoleMFA, Panther style: a plain policy(resource) and title(resource), no
# import of palisade_policy; the metadata is in iam_console_mfa.yml beside this file.


def policy(resource):
    report = resource.get("CredentialReport")
    if report is None:
        return True
    return not (report.get("PasswordEnabled") is True and report.get("MfaActive") is not True)


def title(resource):
    name = resource.get("Name")
    return f"user {name if isinstance(name, str) else ''} can sign in to the console without MFA"
