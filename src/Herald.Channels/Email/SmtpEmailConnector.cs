using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Herald.Channels.Egress;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Herald.Channels.Email;

/// <summary>
/// Sends email through an SMTP relay with MailKit: a multipart/alternative message (text and HTML), From the
/// account's sender, with a Message-ID Herald controls (<c>&lt;{attemptId}@herald&gt;</c>, returned without the angle
/// brackets as the provider message id, so bounces that quote it can be matched). A relay that took the message
/// means <see cref="SendOutcomeKind.Accepted"/>: delivery, or a bounce, happens later. A recipient the relay refuses
/// with 5xx is a hard bounce (<see cref="SendOutcomeKind.PermanentFailure"/>); 4xx, connection, TLS, protocol and
/// timeout trouble is transient; so is a failed login or a refused sender, which are faults of the account and
/// must open its circuit. Connections are pooled per account (see <see cref="SmtpSettings.MaxConnections"/>).
/// </summary>
public sealed class SmtpEmailConnector(IOptions<ChannelsOptions> options, EgressGuard egress, TimeProvider time) : IChannelConnector, IDisposable
{
    public const string ConnectorKind = "smtp";

    /// <summary>Domain part of the Message-IDs Herald assigns.</summary>
    public const string MessageIdDomain = "herald";

    // Account faults (wrong password, sender not allowed) will not heal in seconds.
    private static readonly TimeSpan AccountFaultRetryAfter = TimeSpan.FromSeconds(30);

    private readonly AccountSettingsCache<SmtpSettings> _settings = new(SmtpSettings.Parse);
    private readonly ConcurrentDictionary<Guid, SmtpConnectionPool> _pools = new();
    private readonly ChannelsOptions _options = options.Value;

    public string Kind => ConnectorKind;

    public Channel Channel => Channel.Email;

    public async Task<SendOutcome> SendAsync(OutboundMessage message, ProviderAccount account, CancellationToken ct)
    {
        var settings = _settings.Get(account, out var settingsError);
        if (settings is null)
        {
            return AccountSettings.Unusable(settingsError);
        }

        if (!TryParseRecipient(message.To, out var to))
        {
            return SendOutcome.Permanent("invalid_address", "recipient is not an email address");
        }

        using var mime = Build(message, settings, to, time.GetUtcNow());
        var pool = Pool(account, settings);
        for (var attempt = 0; ; attempt++)
        {
            var connection = await pool.RentAsync(ct).ConfigureAwait(false);
            var reusable = false;
            try
            {
                if (!connection.Client.IsConnected)
                {
                    await pool.OpenAsync(connection, ct).ConfigureAwait(false);
                }

                await connection.Client.SendAsync(mime, settings.EnvelopeSender(account.Id), [to], ct).ConfigureAwait(false);
                reusable = true;
                return new SendOutcome(SendOutcomeKind.Accepted, ProviderMessageId: mime.MessageId);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var failure = Map(e, connection.Client);
                reusable = failure.KeepConnection;
                if (failure.StaleConnection && connection.Reused && attempt == 0)
                {
                    // The relay probably closed the pooled connection while it sat idle: once more on a fresh one.
                    continue;
                }

                return failure.Outcome;
            }
            finally
            {
                pool.Return(connection, reusable);
            }
        }
    }

    /// <summary>Closes every pooled connection.</summary>
    public void Dispose()
    {
        foreach (var pool in _pools.Values)
        {
            pool.Dispose();
        }

        _pools.Clear();
    }

    private SmtpConnectionPool Pool(ProviderAccount account, SmtpSettings settings)
    {
        while (true)
        {
            if (_pools.TryGetValue(account.Id, out var pool))
            {
                if (ReferenceEquals(pool.Settings, settings) || string.Equals(pool.Raw, account.Settings, StringComparison.Ordinal))
                {
                    return pool;
                }

                // The account's settings changed (host, credentials, sender): new connections from now on.
                var fresh = new SmtpConnectionPool(settings, account.Settings, _options, egress, time);
                if (_pools.TryUpdate(account.Id, fresh, pool))
                {
                    pool.Dispose();
                    return fresh;
                }

                fresh.Dispose();
                continue;
            }

            var created = new SmtpConnectionPool(settings, account.Settings, _options, egress, time);
            if (_pools.TryAdd(account.Id, created))
            {
                return created;
            }

            created.Dispose();
        }
    }

    private static bool TryParseRecipient(string address, out MailboxAddress mailbox)
    {
        mailbox = null!;
        var trimmed = address.Trim();
        if (trimmed.Length == 0 || trimmed.AsSpan().IndexOfAny("\r\n<>, ") >= 0)
        {
            return false;
        }

        var at = trimmed.LastIndexOf('@');
        if (at <= 0 || at == trimmed.Length - 1 || !MailboxAddress.TryParse(trimmed, out var parsed))
        {
            return false;
        }

        mailbox = parsed;
        return true;
    }

    /// <summary>The message as sent: text and HTML alternatives, Herald's Message-ID, marked auto-generated.</summary>
    internal static MimeMessage Build(OutboundMessage message, SmtpSettings settings, MailboxAddress to, DateTimeOffset now)
    {
        var mime = new MimeMessage();
        mime.From.Add(settings.From);
        mime.To.Add(to);
        mime.Subject = message.Subject ?? settings.Subject;
        mime.Date = now;
        mime.MessageId = MessageId(message.AttemptId);
        // RFC 3834: keeps vacation responders and ticket systems from answering a notification.
        mime.Headers.Add("Auto-Submitted", "auto-generated");
        mime.Headers.Add("X-Herald-Notification-Id", message.NotificationId.ToString("D"));
        mime.Body = new BodyBuilder { TextBody = message.Text, HtmlBody = message.Html ?? ToHtml(message.Text) }.ToMessageBody();
        return mime;
    }

    /// <summary>The Message-ID of an attempt, without angle brackets: <c>{attemptId}@herald</c>.</summary>
    public static string MessageId(Guid attemptId) => attemptId.ToString("D") + "@" + MessageIdDomain;

    /// <summary>Without an HTML template: the text, HTML-encoded, line breaks as &lt;br&gt;.</summary>
    internal static string ToHtml(string text)
    {
        var html = new StringBuilder(text.Length + 128);
        html.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body><p>");
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (i > 0)
            {
                html.Append("<br>\n");
            }

            html.Append(WebUtility.HtmlEncode(lines[i]));
        }

        html.Append("</p></body></html>\n");
        return html.ToString();
    }

    /// <param name="KeepConnection">The relay answered and the session is still in a known state.</param>
    /// <param name="StaleConnection">The failure says the connection itself is gone; worth one retry when it was a
    /// pooled one.</param>
    internal readonly record struct Failure(SendOutcome Outcome, bool KeepConnection, bool StaleConnection);

    // The texts are Herald's: an exception message or a reply line is what the far end said (see ProviderErrors).
    private static Failure Map(Exception e, SmtpClient client) => e switch
    {
        SmtpCommandException command => MapCommand(command, client),
        EgressRefusedException => new(EgressErrors.Refused(Api), false, false),
        SmtpConnectFailedException => new(SendOutcome.Transient("network", "SMTP relay: could not connect"), false, false),
        AuthenticationException => new(SendOutcome.Transient("auth_failed", "SMTP relay refused the account's login", AccountFaultRetryAfter), false, false),
        SslHandshakeException => new(SendOutcome.Transient("tls", "SMTP relay: the TLS handshake failed"), false, false),
        // STARTTLS required but not offered, or a login configured and no AUTH offered: the account is wrong.
        NotSupportedException => new(SendOutcome.Transient("unsupported", "SMTP relay does not offer what the account requires (STARTTLS or AUTH)", AccountFaultRetryAfter), false, false),
        ServiceNotConnectedException or SmtpProtocolException or ProtocolException => new(SendOutcome.Transient("protocol", "SMTP relay: the session broke off or spoke no valid SMTP"), false, true),
        OperationCanceledException or TimeoutException => new(SendOutcome.Transient("timeout", "SMTP relay did not answer in time"), false, false),
        SocketException or IOException => new(SendOutcome.Transient("network", "SMTP relay: could not connect, or the connection broke"), false, true),
        _ => new(SendOutcome.Transient("smtp_error", "SMTP relay: the send failed"), false, false),
    };

    /// <summary>How errors name the far end.</summary>
    internal const string Api = "SMTP relay";

    /// <summary>The relay answered a command with an error reply.</summary>
    internal static Failure MapCommand(SmtpCommandException e, SmtpClient? client)
    {
        var status = (int)e.StatusCode;
        var code = status.ToString(CultureInfo.InvariantCulture);
        // The reply's text is the relay's and is not kept (see ProviderErrors); the reply code says what happened.
        var error = $"SMTP relay replied {code}: " + e.ErrorCode switch
        {
            SmtpErrorCode.RecipientNotAccepted => "recipient refused",
            SmtpErrorCode.SenderNotAccepted => "sender refused",
            SmtpErrorCode.MessageNotAccepted => "message refused",
            _ => "command refused",
        };
        // 421: the relay is closing the session (shutting down, too many messages on one connection).
        var keep = status != 421 && client is { IsConnected: true };
        var outcome = status switch
        {
            // Authentication required / too weak / invalid credentials / encryption required: the account.
            530 or 534 or 535 or 538 => SendOutcome.Transient(code, error, AccountFaultRetryAfter),
            // 552 on MAIL FROM is the SIZE declared for this message; any other 5xx for the sender is our account
            // (sender address not allowed for this login), and every message would fail the same way.
            >= 500 when e.ErrorCode == SmtpErrorCode.SenderNotAccepted && status != 552 => SendOutcome.Transient(code, error, AccountFaultRetryAfter),
            // 550/551/553 user unknown, mailbox unavailable, 552 mailbox full, 554 rejected: a hard bounce.
            >= 500 when e.ErrorCode is SmtpErrorCode.RecipientNotAccepted or SmtpErrorCode.MessageNotAccepted or SmtpErrorCode.SenderNotAccepted =>
                SendOutcome.Permanent(code, error),
            // A 5xx to EHLO/greeting or other session commands says nothing about this message.
            >= 500 => SendOutcome.Transient(code, error),
            // 421, 450 mailbox busy, 451 local error, 452 insufficient storage: try again later.
            _ => SendOutcome.Transient(code, error),
        };
        return new(outcome, keep, status == 421);
    }
}
