using System.Globalization;
using System.Text.Json;
using MimeKit;

namespace Herald.Channels.Email;

/// <summary>How the SMTP connection is secured.</summary>
public enum SmtpSecurity
{
    /// <summary>Plain connect, then STARTTLS (required: a server without it is refused). Port 587.</summary>
    StartTls,
    /// <summary>TLS from the first byte (SMTPS). Port 465.</summary>
    Ssl,
    /// <summary>No TLS. Only for relays on a trusted network and for the sandbox.</summary>
    None,
}

/// <summary>
/// The settings of an "smtp" provider account (an SMTP relay). The sender is per account, so per tenant:
/// <c>{"host":"smtp.example","port":587,"security":"starttls|ssl|none","username":null,"password":null,
/// "fromAddress":"alerts@bank.example","fromName":"Example Bank","subject":"Message from {fromName}",
/// "maxConnections":4,"bounceAddress":"bounces+{accountId}@bank.example","bounceToken":"…"}</c>.
/// </summary>
/// <param name="Subject">The subject with <c>{fromName}</c> already replaced (by the from address when there is no name).</param>
/// <param name="MaxConnections">Upper bound of connections this account keeps open to the relay (1–64).</param>
/// <param name="BounceAddress">The envelope sender (Return-Path) that bounces go to; the from address when null.
/// <c>{accountId}</c> is replaced by the account id (VERP-style, so one bounce mailbox can serve every account).</param>
/// <param name="BounceToken">Bearer token of <c>POST /callbacks/email/{accountId}</c>, where the bank's mail system
/// hands Herald the bounce reports (DSN) that came back; null: the endpoint refuses every report for the account.</param>
public sealed record SmtpSettings(
    string Host,
    int Port,
    SmtpSecurity Security,
    string? Username,
    string? Password,
    string FromAddress,
    string? FromName,
    string Subject,
    int MaxConnections,
    string? BounceAddress = null,
    string? BounceToken = null)
{
    /// <summary>Shortest bounce token accepted: it is the only thing that authenticates a bounce report.</summary>
    public const int MinBounceTokenLength = 16;

    /// <summary>What <see cref="BounceAddress"/> may contain to stand for the account id.</summary>
    public const string AccountIdPlaceholder = "{accountId}";

    public const string DefaultSubject = "Message from {fromName}";
    public const int DefaultMaxConnections = 4;

    /// <summary>The From header: <c>"Example Bank" &lt;alerts@bank.example&gt;</c>.</summary>
    public MailboxAddress From => new(FromName, FromAddress);

    public static SmtpSettings Parse(JsonElement root)
    {
        var host = SettingsJson.Required(root, "host").Trim();
        if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            throw new FormatException("settings.host is not a host name or IP address");
        }

        var security = (SettingsJson.Optional(root, "security") ?? "starttls").Trim().ToLowerInvariant() switch
        {
            "starttls" => SmtpSecurity.StartTls,
            "ssl" or "tls" => SmtpSecurity.Ssl,
            "none" => SmtpSecurity.None,
            _ => throw new FormatException("settings.security must be starttls, ssl or none"),
        };

        var port = OptionalInt(root, "port") ?? (security == SmtpSecurity.Ssl ? 465 : 587);
        if (port is < 1 or > 65535)
        {
            throw new FormatException("settings.port must be between 1 and 65535");
        }

        var username = SettingsJson.Optional(root, "username");
        var password = SettingsJson.Optional(root, "password");
        if (string.IsNullOrEmpty(username))
        {
            username = null;
            if (!string.IsNullOrEmpty(password))
            {
                throw new FormatException("settings.password is set without settings.username");
            }
        }
        else if (password is null)
        {
            throw new FormatException("settings.password is required with settings.username");
        }

        var fromAddress = SettingsJson.Required(root, "fromAddress").Trim();
        if (!MailboxAddress.TryParse(fromAddress, out var parsed) || !string.Equals(parsed.Address, fromAddress, StringComparison.Ordinal)
            || !fromAddress.Contains('@', StringComparison.Ordinal))
        {
            throw new FormatException("settings.fromAddress must be a bare email address (alerts@bank.example)");
        }

        var fromName = SettingsJson.Optional(root, "fromName") is { Length: > 0 } name ? name.Trim() : null;
        var subject = SettingsJson.Optional(root, "subject") is { Length: > 0 } s ? s : DefaultSubject;
        subject = subject.Replace("{fromName}", fromName ?? fromAddress, StringComparison.Ordinal);
        if (subject.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new FormatException("settings.subject must be one line");
        }

        var maxConnections = OptionalInt(root, "maxConnections") ?? DefaultMaxConnections;
        if (maxConnections is < 1 or > 64)
        {
            throw new FormatException("settings.maxConnections must be between 1 and 64");
        }

        var bounceAddress = SettingsJson.Optional(root, "bounceAddress") is { Length: > 0 } b ? b.Trim() : null;
        if (bounceAddress is not null)
        {
            var probe = bounceAddress.Replace(AccountIdPlaceholder, Guid.Empty.ToString("N"), StringComparison.Ordinal);
            if (!MailboxAddress.TryParse(probe, out var bounce) || !string.Equals(bounce.Address, probe, StringComparison.Ordinal)
                || !probe.Contains('@', StringComparison.Ordinal))
            {
                throw new FormatException("settings.bounceAddress must be a bare email address (bounces+{accountId}@bank.example)");
            }
        }

        var bounceToken = SettingsJson.Optional(root, "bounceToken") is { Length: > 0 } t ? t : null;
        if (bounceToken is { Length: < MinBounceTokenLength })
        {
            throw new FormatException($"settings.bounceToken must be at least {MinBounceTokenLength} characters");
        }

        return new(host, port, security, username, password, fromAddress, fromName, subject, maxConnections, bounceAddress, bounceToken);
    }

    /// <summary>Parses settings text; throws <see cref="FormatException"/> or <see cref="JsonException"/> when unusable.</summary>
    public static SmtpSettings Parse(string settingsJson)
    {
        using var doc = JsonDocument.Parse(settingsJson);
        return Parse(doc.RootElement);
    }

    /// <summary>The envelope sender of the account's messages: where relays send bounce reports.</summary>
    public MailboxAddress EnvelopeSender(Guid accountId) => BounceAddress is null
        ? new MailboxAddress(null, FromAddress)
        : new MailboxAddress(null, BounceAddress.Replace(AccountIdPlaceholder, accountId.ToString("N"), StringComparison.Ordinal));

    /// <summary>Without the password: settings end up in logs and exception messages.</summary>
    public override string ToString() =>
        $"smtp://{(Username is null ? string.Empty : Username + ":***@")}{Host}:{Port.ToString(CultureInfo.InvariantCulture)} ({Security}) from {FromAddress}";

    private static int? OptionalInt(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var p) || p.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out var n))
        {
            return n;
        }

        if (p.ValueKind == JsonValueKind.String && int.TryParse(p.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out n))
        {
            return n;
        }

        throw new FormatException($"settings.{name} must be an integer");
    }
}
