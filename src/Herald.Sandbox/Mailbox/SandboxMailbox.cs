using System.Collections.Concurrent;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox.Mailbox;

/// <summary>A template send as the simulated customer saw it.</summary>
public sealed record SandboxTemplate(string Name, string? Language, IReadOnlyList<string> Parameters);

/// <summary>One message a simulated customer received.</summary>
/// <param name="Channel">Lower-case channel name: <c>whatsapp</c>, <c>telegram</c>, <c>email</c>.</param>
/// <param name="To">Channel address: E.164 with leading + for WhatsApp, chat id for Telegram, the RCPT TO address
/// for email.</param>
/// <param name="Text">The text; for email the text/plain part.</param>
/// <param name="ProviderMessageId">For email the Message-ID header without angle brackets.</param>
/// <param name="Account">Provider account that sent it: phone number id (WhatsApp), bot id (Telegram), the SMTP AUTH
/// user or else the MAIL FROM address (email).</param>
public sealed record SandboxMessage(
    string Channel,
    string To,
    string? Text,
    SandboxTemplate? Template,
    string ProviderMessageId,
    DateTimeOffset Time,
    string Account)
{
    /// <summary>Email: the Subject header; push: the notification title.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Subject { get; init; }

    /// <summary>Email only: the text/html part.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Html { get; init; }

    /// <summary>Email only: the From header as sent (<c>"Example Bank" &lt;alerts@bank.example&gt;</c>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? From { get; init; }

    /// <summary>Reply choices the message offered (WhatsApp reply buttons, a Telegram inline keyboard), by id and title;
    /// what a simulated customer can answer with <c>POST /sandbox/replies</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<SandboxButton>? Buttons { get; init; }

    /// <summary>The SHA-256 (hex) of the secret the send authenticated with: the WhatsApp access token, the whole
    /// Telegram bot token, the Twilio auth token, the SMTP AUTH password, the SMPP bind password, the FCM service
    /// account's client_email (its access token was granted only against that account's key). Never shown; the host
    /// matches it against a tenant's stored accounts, so an account id alone (not a secret) does not reveal another
    /// tenant's messages. Null when the send carried no secret.</summary>
    [JsonIgnore]
    public string? Credential { get; init; }

    /// <summary>The value of <see cref="Credential"/> for <paramref name="secret"/>.</summary>
    public static string CredentialOf(string secret) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret)));

    /// <summary>SMS: where and how a simulated customer's answer is posted (never shown: it holds the auth token).</summary>
    [JsonIgnore]
    internal SandboxReplyRoute? ReplyRoute { get; init; }
}

/// <summary>Twilio's incoming-message webhook for an answer: the URL the message's status callbacks went to, signed
/// with the auth token the send authenticated with, to the number it came from.</summary>
internal sealed record SandboxReplyRoute(string Url, string AuthToken, string From);

/// <summary>One reply choice a sandbox message offered.</summary>
public sealed record SandboxButton(string Id, string Title);

/// <summary>
/// What simulated customers received, newest <see cref="SandboxOptions.MailboxCapacity"/> kept.
/// Lock-free on the add path: the simulators call it once per accepted send.
/// </summary>
public sealed class SandboxMailbox(IOptions<SandboxOptions> options)
{
    private readonly ConcurrentQueue<SandboxMessage> messages = new();
    private readonly int capacity = options.Value.MailboxCapacity;
    private int count;

    /// <summary>Number of messages held (approximate under concurrent adds).</summary>
    public int Count => Volatile.Read(ref count);

    /// <summary>Records a received message, evicting the oldest beyond capacity.</summary>
    public void Add(SandboxMessage message)
    {
        messages.Enqueue(message);
        if (Interlocked.Increment(ref count) > capacity && messages.TryDequeue(out _))
        {
            Interlocked.Decrement(ref count);
        }
    }

    /// <summary>Messages in arrival order, optionally filtered by channel and address.
    /// Phone addresses match with or without the leading +.</summary>
    public IReadOnlyList<SandboxMessage> Find(string? channel = null, string? to = null)
    {
        var wantedTo = NormaliseAddress(to);
        var result = new List<SandboxMessage>();
        foreach (var message in messages)
        {
            if (!string.IsNullOrEmpty(channel) && !string.Equals(message.Channel, channel, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (wantedTo is not null && !string.Equals(NormaliseAddress(message.To), wantedTo, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            result.Add(message);
        }

        return result;
    }

    /// <summary>Forgets every message.</summary>
    public void Clear()
    {
        messages.Clear();
        Volatile.Write(ref count, 0);
    }

    // A "+" in a query string arrives as a space, so both are dropped before comparing.
    private static string? NormaliseAddress(string? address)
    {
        if (string.IsNullOrWhiteSpace(address))
        {
            return null;
        }

        var trimmed = address.Trim();
        return trimmed.StartsWith('+') ? trimmed[1..] : trimmed;
    }
}
