using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Herald.Sandbox.Mailbox;
using MimeKit;

namespace Herald.Sandbox.Smtp;

/// <summary>One SMTP connection: reads command lines, answers in order (so PIPELINING clients work), and turns
/// each DATA into mailbox entries.</summary>
internal sealed class SmtpSession : IAsyncDisposable
{
    private const string ServerName = "herald-sandbox";
    private const int MaxCommandLine = 4096;
    private const int MaxDataLine = 64 * 1024;
    private const int MaxRecipients = 100;

    // RFC 5321 4.5.3.2.7: a server should wait at least 5 minutes for the next command.
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(5);

    private readonly SmtpSimulator simulator;
    private readonly Socket socket;
    private readonly NetworkStream stream;
    private readonly PipeReader reader;
    private readonly List<(string Address, bool NotifyFailure)> recipients = [];
    private string? helo;
    private string? authUser;
    private string? authCredential;
    private string? mailFrom;
    private string? envelopeId;

    public SmtpSession(SmtpSimulator simulator, Socket socket)
    {
        this.simulator = simulator;
        this.socket = socket;
        socket.NoDelay = true;
        stream = new NetworkStream(socket, ownsSocket: true);
        reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
    }

    public async ValueTask DisposeAsync()
    {
        await reader.CompleteAsync().ConfigureAwait(false);
        await stream.DisposeAsync().ConfigureAwait(false);
        socket.Dispose();
    }

    public async Task RunAsync(CancellationToken ct)
    {
        await ReplyAsync($"220 {ServerName} ESMTP Herald sandbox SMTP simulator", ct).ConfigureAwait(false);
        while (true)
        {
            var line = await ReadCommandAsync(ct).ConfigureAwait(false);
            if (line is null)
            {
                return;
            }

            if (!await HandleAsync(line, ct).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Answers one command; false when the session ends.</summary>
    private async Task<bool> HandleAsync(string line, CancellationToken ct)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        var verb = (space < 0 ? line : line[..space]).ToUpperInvariant();
        var argument = space < 0 ? string.Empty : line[(space + 1)..].Trim();
        if (verb == "DATA")
        {
            return await DataAsync(ct).ConfigureAwait(false);
        }

        // Every other command answers with exactly one reply.
        var reply = verb switch
        {
            "EHLO" => Hello(argument, extended: true),
            "HELO" => Hello(argument, extended: false),
            "AUTH" => await AuthAsync(argument, ct).ConfigureAwait(false),
            "MAIL" => Mail(argument),
            "RCPT" => Rcpt(argument),
            "RSET" => Reset(),
            "NOOP" => "250 2.0.0 Ok",
            "VRFY" => "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
            "HELP" => "214 2.0.0 EHLO HELO AUTH MAIL RCPT DATA RSET NOOP VRFY QUIT",
            "STARTTLS" => "454 4.7.0 TLS not available in the sandbox",
            "QUIT" => "221 2.0.0 Bye",
            _ => "500 5.5.2 Error: command not recognized",
        };
        await ReplyAsync(reply, ct).ConfigureAwait(false);
        return verb != "QUIT";
    }

    private string Hello(string argument, bool extended)
    {
        if (argument.Length == 0)
        {
            return extended ? "501 5.5.4 Syntax: EHLO hostname" : "501 Syntax: HELO hostname";
        }

        helo = argument;
        ResetTransaction();
        return extended
            ? $"250-{ServerName} greets {argument}\r\n250-PIPELINING\r\n250-SIZE {simulator.MaxMessageBytes.ToString(CultureInfo.InvariantCulture)}\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-AUTH PLAIN LOGIN\r\n250 HELP"
            : $"250 {ServerName}";
    }

    private string Reset()
    {
        ResetTransaction();
        return "250 2.0.0 Ok";
    }

    /// <summary>AUTH PLAIN or LOGIN (with 334 challenges where the client sent no initial response); the final reply.</summary>
    private async Task<string> AuthAsync(string argument, CancellationToken ct)
    {
        if (helo is null)
        {
            return "503 5.5.1 Error: send EHLO first";
        }

        if (authUser is not null)
        {
            return "503 5.5.1 Error: already authenticated";
        }

        var parts = argument.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var mechanism = parts.Length > 0 ? parts[0].ToUpperInvariant() : string.Empty;
        string? user;
        string? password = null;
        switch (mechanism)
        {
            case "PLAIN":
            {
                var response = parts.Length > 1 ? parts[1] : await ChallengeAsync(string.Empty, ct).ConfigureAwait(false);
                // authzid NUL authcid NUL password
                var decoded = Decode(response);
                var fields = decoded?.Split('\0');
                user = fields is { Length: 3 } ? fields[1] : null;
                password = fields is { Length: 3 } ? fields[2] : null;
                break;
            }

            case "LOGIN":
            {
                var first = parts.Length > 1 ? parts[1] : await ChallengeAsync("VXNlcm5hbWU6", ct).ConfigureAwait(false);
                user = first is null ? null : Decode(first);
                if (user is not null)
                {
                    var answer = await ChallengeAsync("UGFzc3dvcmQ6", ct).ConfigureAwait(false);
                    password = answer is null ? null : Decode(answer);
                    user = password is null ? null : user;
                }

                break;
            }

            default:
                return "504 5.5.4 Unrecognized authentication type";
        }

        if (user is null)
        {
            return "501 5.5.2 Cannot decode AUTH response";
        }

        // Any credentials are accepted; the user name becomes the account in stats and the mailbox.
        authUser = user.Length > 0 ? user : "anonymous";
        authCredential = string.IsNullOrEmpty(password) ? null : SandboxMessage.CredentialOf(password);
        return "235 2.7.0 Authentication successful";
    }

    /// <summary>Sends a 334 challenge and reads the answer; null when the client cancelled with "*".</summary>
    private async Task<string?> ChallengeAsync(string challenge, CancellationToken ct)
    {
        await ReplyAsync("334 " + challenge, ct).ConfigureAwait(false);
        var line = await ReadCommandAsync(ct).ConfigureAwait(false) ?? throw new IOException("Connection closed during AUTH");
        return line == "*" ? null : line;
    }

    private static string? Decode(string? base64)
    {
        if (base64 is null)
        {
            return null;
        }

        if (base64 == "=")
        {
            return string.Empty;
        }

        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(base64));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private string Mail(string argument)
    {
        if (helo is null)
        {
            return "503 5.5.1 Error: send HELO/EHLO first";
        }

        if (mailFrom is not null)
        {
            return "503 5.5.1 Error: nested MAIL command";
        }

        if (!TryParsePath(argument, "FROM:", allowEmpty: true, out var address, out var parameters))
        {
            return "501 5.5.4 Syntax: MAIL FROM:<address>";
        }

        foreach (var parameter in parameters)
        {
            if (parameter.StartsWith("SIZE=", StringComparison.OrdinalIgnoreCase)
                && long.TryParse(parameter.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var size)
                && size > simulator.MaxMessageBytes)
            {
                return "552 5.3.4 Message size exceeds fixed limit";
            }

            if (parameter.StartsWith("ENVID=", StringComparison.OrdinalIgnoreCase))
            {
                envelopeId = SmtpBounceReport.DecodeXtext(parameter[6..]);
            }
        }

        mailFrom = address;
        return "250 2.1.0 Ok";
    }

    private string Rcpt(string argument)
    {
        if (mailFrom is null)
        {
            return "503 5.5.1 Error: need MAIL command";
        }

        if (!TryParsePath(argument, "TO:", allowEmpty: false, out var address, out var parameters) || !address.Contains('@', StringComparison.Ordinal))
        {
            return "501 5.1.3 Bad recipient address syntax";
        }

        if (recipients.Count >= MaxRecipients)
        {
            return "452 4.5.3 Error: too many recipients";
        }

        if (address.EndsWith(SmtpSimulator.BounceDomain, StringComparison.OrdinalIgnoreCase))
        {
            simulator.Stats.Rejected(SmtpSimulator.ChannelName, Account);
            return $"550 5.1.1 <{address}>: Recipient address rejected: User unknown";
        }

        // RFC 3461: without NOTIFY a failure is reported; NOTIFY=NEVER (or a list without FAILURE) asks for silence.
        var notify = parameters.FirstOrDefault(p => p.StartsWith("NOTIFY=", StringComparison.OrdinalIgnoreCase));
        recipients.Add((address, notify is null || notify.Contains("FAILURE", StringComparison.OrdinalIgnoreCase)));
        return "250 2.1.5 Ok";
    }

    /// <summary>DATA: reads up to the lone dot, then accepts or refuses the message as a whole.</summary>
    private async Task<bool> DataAsync(CancellationToken ct)
    {
        var refusal = mailFrom is null ? "503 5.5.1 Error: need MAIL command"
            : recipients.Count == 0 ? "554 5.5.1 Error: no valid recipients"
            : null;
        if (refusal is not null)
        {
            await ReplyAsync(refusal, ct).ConfigureAwait(false);
            return true;
        }

        await ReplyAsync("354 End data with <CR><LF>.<CR><LF>", ct).ConfigureAwait(false);
        using var content = new MemoryStream();
        var tooBig = false;
        while (true)
        {
            var (ok, isEnd) = await ReadDataLineAsync(content, tooBig, ct).ConfigureAwait(false);
            if (!ok)
            {
                return false;
            }

            if (isEnd)
            {
                break;
            }

            tooBig |= content.Length > simulator.MaxMessageBytes;
        }

        var account = Account;
        var current = simulator.CurrentSettings;
        if (current.LatencyMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(current.LatencyMs), simulator.Time, ct).ConfigureAwait(false);
        }

        await simulator.Outages.DelayAsync(account, simulator.Time, ct).ConfigureAwait(false);

        var reply = Accept(content, tooBig, account, current.RatePerSecond, current.FailureRate);
        ResetTransaction();
        await ReplyAsync(reply, ct).ConfigureAwait(false);
        return true;
    }

    private string Accept(MemoryStream content, bool tooBig, string account, int ratePerSecond, double failureRate)
    {
        if (tooBig)
        {
            simulator.Stats.Rejected(SmtpSimulator.ChannelName, account);
            return "552 5.3.4 Message size exceeds fixed limit";
        }

        if (simulator.Outages.IsOut(account))
        {
            // PUT /sandbox/outages/{user}: the relay is in trouble; a temporary refusal, retried by the sender.
            simulator.Stats.Failed(SmtpSimulator.ChannelName, account);
            return "451 4.3.2 System not accepting network messages";
        }

        if (!simulator.RateLimiter.TryAcquire(SmtpSimulator.ChannelName + ":" + account, ratePerSecond).Allowed)
        {
            simulator.Stats.RateLimited(SmtpSimulator.ChannelName, account);
            return "451 4.7.1 Rate limit exceeded, try again later";
        }

        if (failureRate > 0 && Random.Shared.NextDouble() < failureRate)
        {
            simulator.Stats.Failed(SmtpSimulator.ChannelName, account);
            return "451 4.3.0 Simulated temporary failure, try again later";
        }

        MimeMessage message;
        content.Position = 0;
        try
        {
            message = MimeMessage.Load(content);
        }
        catch (FormatException)
        {
            simulator.Stats.Rejected(SmtpSimulator.ChannelName, account);
            return "554 5.6.0 Message could not be parsed";
        }

        using (message)
        {
            var queueId = Guid.NewGuid().ToString("N")[..12].ToUpperInvariant();
            var messageId = string.IsNullOrEmpty(message.MessageId) ? queueId + "@" + ServerName : message.MessageId;
            var now = simulator.Time.GetUtcNow();
            var from = message.From.Count > 0 ? message.From.ToString() : mailFrom;
            foreach (var (recipient, notifyFailure) in recipients)
            {
                if (recipient.EndsWith(SmtpSimulator.LateBounceDomain, StringComparison.OrdinalIgnoreCase))
                {
                    // Taken now, refused later by the "remote" server: the customer gets nothing, the sender a DSN.
                    simulator.Stats.Accepted(SmtpSimulator.ChannelName, account);
                    if (notifyFailure && !string.IsNullOrEmpty(mailFrom))
                    {
                        ReturnBounce(message, recipient, now);
                    }

                    continue;
                }

                simulator.Mailbox.Add(new SandboxMessage(
                    SmtpSimulator.ChannelName,
                    recipient,
                    message.TextBody,
                    null,
                    messageId,
                    now,
                    account)
                {
                    Subject = message.Subject,
                    Html = message.HtmlBody,
                    From = from,
                    Credential = authCredential,
                });
                simulator.Stats.Accepted(SmtpSimulator.ChannelName, account);
            }

            return $"250 2.0.0 Ok: queued as {queueId}";
        }
    }

    /// <summary>Sends the DSN for <paramref name="recipient"/> to the envelope sender, after the receipt delay.</summary>
    private void ReturnBounce(MimeMessage original, string recipient, DateTimeOffset now)
    {
        var report = SmtpBounceReport.Build(ServerName, mailFrom!, envelopeId, original, recipient, now);
        var delay = simulator.CurrentSettings.ReceiptDelayMs;
        if (simulator.Bounces is { } bounces && SmtpBounceReport.VerpAccount(mailFrom!) is { } accountId)
        {
            bounces.Schedule(new SmtpBounce { AccountId = accountId, Report = report.Bytes }, delay);
            return;
        }

        simulator.Mailbox.Add(new SandboxMessage(SmtpSimulator.ChannelName, mailFrom!, report.Text, null, report.MessageId, now, "mailer-daemon")
        {
            Subject = SmtpBounceReport.Subject,
            From = report.From,
        });
    }

    private string Account => authUser ?? (string.IsNullOrEmpty(mailFrom) ? "anonymous" : mailFrom);

    private void ResetTransaction()
    {
        mailFrom = null;
        envelopeId = null;
        recipients.Clear();
    }

    /// <summary>Parses <c>FROM:&lt;a@b&gt; PARAM=…</c> (also without angle brackets, as lenient servers do).</summary>
    private static bool TryParsePath(string argument, string prefix, bool allowEmpty, out string address, out string[] parameters)
    {
        address = string.Empty;
        parameters = [];
        if (!argument.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var rest = argument[prefix.Length..].TrimStart();
        string tail;
        if (rest.StartsWith('<'))
        {
            var close = rest.IndexOf('>', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            address = rest[1..close];
            tail = rest[(close + 1)..];
        }
        else
        {
            var end = rest.IndexOf(' ', StringComparison.Ordinal);
            address = end < 0 ? rest : rest[..end];
            tail = end < 0 ? string.Empty : rest[end..];
        }

        // A source route (<@a,@b:user@host>) is obsolete; keep the mailbox.
        var colon = address.LastIndexOf(':');
        if (address.StartsWith('@') && colon > 0)
        {
            address = address[(colon + 1)..];
        }

        parameters = tail.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return allowEmpty || address.Length > 0;
    }

    private async Task ReplyAsync(string reply, CancellationToken ct)
    {
        var bytes = Encoding.ASCII.GetBytes(reply + "\r\n");
        await stream.WriteAsync(bytes, ct).ConfigureAwait(false);
    }

    /// <summary>Reads one command line (CRLF, bare LF tolerated); null at end of stream or timeout.</summary>
    private async Task<string?> ReadCommandAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(CommandTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await ReplyAsync("421 4.4.2 " + ServerName + " Error: timeout exceeded", ct).ConfigureAwait(false);
                return null;
            }

            var buffer = result.Buffer;
            var newline = buffer.PositionOf((byte)'\n');
            if (newline is { } position)
            {
                var line = buffer.Slice(0, position);
                var text = Encoding.Latin1.GetString(line.IsSingleSegment ? line.FirstSpan : line.ToArray()).TrimEnd('\r');
                reader.AdvanceTo(buffer.GetPosition(1, position));
                return text;
            }

            if (buffer.Length > MaxCommandLine)
            {
                reader.AdvanceTo(buffer.End);
                await ReplyAsync("500 5.5.6 Error: line too long", ct).ConfigureAwait(false);
                return null;
            }

            if (result.IsCompleted)
            {
                return null;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads one DATA line into <paramref name="content"/> with dot-stuffing undone. Returns
    /// (false, _) when the connection ended, (true, true) at the terminating lone dot.</summary>
    private async Task<(bool Ok, bool IsEnd)> ReadDataLineAsync(MemoryStream content, bool discard, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(CommandTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return (false, false);
            }

            var buffer = result.Buffer;
            var newline = buffer.PositionOf((byte)'\n');
            if (newline is null)
            {
                if (result.IsCompleted || buffer.Length > MaxDataLine)
                {
                    // A line beyond any sane length is a broken client; drop the connection.
                    return (false, false);
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            var line = buffer.Slice(0, newline.Value);
            if (line.Length > 0 && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r')
            {
                line = line.Slice(0, line.Length - 1);
            }

            var isEnd = line.Length == 1 && line.FirstSpan[0] == (byte)'.';
            if (!isEnd && !discard)
            {
                // RFC 5321 4.5.2: a line starting with "." had one more "." added by the client.
                if (line.Length > 0 && line.FirstSpan[0] == (byte)'.')
                {
                    line = line.Slice(1);
                }

                foreach (var segment in line)
                {
                    content.Write(segment.Span);
                }

                content.Write("\r\n"u8);
            }

            reader.AdvanceTo(buffer.GetPosition(1, newline.Value));
            return (true, isEnd);
        }
    }
}
