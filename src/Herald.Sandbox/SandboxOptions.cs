using System.ComponentModel.DataAnnotations;

namespace Herald.Sandbox;

/// <summary>
/// Start-up options of the provider sandbox, bound from <c>Herald:Sandbox</c>.
/// The shaping values (latency, rate, receipt delay, failure rate) are only the initial values:
/// <c>PUT /sandbox/settings</c> changes them at run time.
/// </summary>
public sealed class SandboxOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "Herald:Sandbox";

    /// <summary>When false, <c>MapHeraldSandbox</c> maps nothing. Herald itself defaults it to true only in the
    /// embedded (SQLite) mode; with PostgreSQL the sandbox must be asked for (issue #13).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// One secret for every callback the simulators sign (WhatsApp <c>X-Hub-Signature-256</c> app secret, the bearer
    /// token of email bounce reports): for a standalone sandbox in front of accounts configured with it. Null (the
    /// default): each account's own secret, from <see cref="Callbacks.ISandboxCallbackSecrets"/> (Herald registers one
    /// that reads its provider accounts), so no published secret signs anybody's receipts.
    /// </summary>
    public string? AppSecret { get; set; }

    /// <summary>
    /// When set, the sandbox's read and control endpoints (<c>/sandbox/messages</c>, <c>/settings</c>, <c>/stats</c>,
    /// <c>/outages</c>, <c>/smtp</c>, <c>/smpp</c>) answer only requests with <c>Authorization: Bearer {ControlKey}</c>;
    /// the vendor-API paths keep taking vendor-style credentials. Herald sets it to <c>Herald:AdminKey</c> when the
    /// sandbox runs outside the embedded demo and no key is configured.
    /// </summary>
    public string? ControlKey { get; set; }

    /// <summary>Base URL of Herald; status webhooks go to <c>{CallbackBaseUrl}/callbacks/whatsapp</c>.
    /// When null, the host's own first listening address is used.</summary>
    public string? CallbackBaseUrl { get; set; }

    /// <summary>When set, the WhatsApp simulator only accepts this bearer token; otherwise any token.</summary>
    public string? AccessToken { get; set; }

    /// <summary>Added latency per simulated provider request, in milliseconds.</summary>
    [Range(0, 600_000)]
    public int LatencyMs { get; set; }

    /// <summary>Accepted sends per second per provider account (phone number id, bot); 0 means unlimited.</summary>
    [Range(0, int.MaxValue)]
    public int RatePerSecond { get; set; }

    /// <summary>Delay between a provider event and its receipt (status webhook), in milliseconds.</summary>
    [Range(0, 3_600_000)]
    public int ReceiptDelayMs { get; set; } = 50;

    /// <summary>Probability (0..1) that a send fails with a transient 5xx.</summary>
    [Range(0.0, 1.0)]
    public double FailureRate { get; set; }

    /// <summary>Most statuses carried by one webhook POST.</summary>
    [Range(1, 1000)]
    public int WebhookBatchSize { get; set; } = 100;

    /// <summary>How long a failing webhook delivery is retried (with backoff) before it is dropped.</summary>
    [Range(1, 7 * 24 * 3600)]
    public int WebhookRetryWindowSeconds { get; set; } = 900;

    /// <summary>Upper bound of statuses waiting for delivery; beyond it new statuses are dropped and counted.</summary>
    [Range(1, 100_000_000)]
    public int MaxPendingWebhookStatuses { get; set; } = 1_000_000;

    /// <summary>Most webhook POSTs in flight at once.</summary>
    [Range(1, 256)]
    public int MaxConcurrentWebhookPosts { get; set; } = 8;

    /// <summary>How many received messages the mailbox keeps (the newest).</summary>
    [Range(1, 10_000_000)]
    public int MailboxCapacity { get; set; } = 100_000;

    /// <summary>
    /// Also serve the Telegram simulator at the root path <c>/bot{token}/{method}</c>. Telegram.Bot (the .NET client)
    /// drops any path from its base URL, so it can only reach a Bot API server at the root of a host.
    /// </summary>
    public bool TelegramAtRoot { get; set; } = true;

    /// <summary>
    /// TCP port of the SMTP simulator on 127.0.0.1: 0 picks a free port (read it from
    /// <see cref="Smtp.SmtpSimulator.Port"/> or <c>GET /sandbox/smtp</c>), null or -1 disables it.
    /// </summary>
    [Range(-1, 65535)]
    public int? SmtpPort { get; set; } = 0;

    /// <summary>Largest message the SMTP simulator accepts (advertised as EHLO SIZE), in bytes.</summary>
    [Range(1024, 100 * 1024 * 1024)]
    public int SmtpMaxMessageBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>
    /// TCP port of the SMPP 3.4 SMSC simulator on 127.0.0.1: 0 picks a free port (read it from
    /// <see cref="Smpp.SmppSimulator.Port"/> or <c>GET /sandbox/smpp</c>), null or -1 disables it.
    /// </summary>
    [Range(-1, 65535)]
    public int? SmppPort { get; set; } = 0;

    /// <summary>When set, the SMPP simulator only binds this system_id (ESME_RINVSYSID otherwise); else any.</summary>
    public string? SmppSystemId { get; set; }

    /// <summary>When set, the SMPP simulator only binds with this password (ESME_RINVPASWD otherwise); else any.</summary>
    public string? SmppPassword { get; set; }

    /// <summary>WhatsApp Business Account id reported as <c>entry[].id</c> in webhooks.</summary>
    public string BusinessAccountId { get; set; } = "100000000000001";

    /// <summary>Display phone number reported in webhook metadata.</summary>
    public string DisplayPhoneNumber { get; set; } = "15550000000";
}
