using System.Net.Http.Headers;
using Herald.Sandbox.Callbacks;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Throttling;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox.Smtp;

/// <summary>A bounce report (RFC 3464) on its way to Herald, as the bank's mail system would hand it in.</summary>
public sealed class SmtpBounce : CallbackItem
{
    /// <summary>The Herald provider account the report's envelope sender names (VERP).</summary>
    public required Guid AccountId { get; init; }

    /// <summary>The whole report, as a message/rfc822 body.</summary>
    public required byte[] Report { get; init; }
}

/// <summary>
/// Plays the bank's mail system for the sandbox SMTP server: a bounce report addressed to
/// <c>bounces+{accountId}@…</c> is POSTed to Herald's <c>/callbacks/email/{accountId}</c> with that account's bounce
/// token as bearer token (<see cref="ISandboxCallbackSecrets"/>), like a Postfix pipe transport into curl. Retries and ordering come from <see cref="CallbackDispatcher{TItem}"/>.
/// </summary>
public sealed class SmtpBounceDispatcher(
    IOptions<SandboxOptions> options,
    SandboxSettings settings,
    SandboxStats stats,
    TimeProvider time,
    IServiceProvider services,
    ISandboxCallbackSecrets secrets,
    ILogger<SmtpBounceDispatcher> logger)
    : CallbackDispatcher<SmtpBounce>(options.Value, settings, stats.EmailBounces, time, logger)
{
    /// <inheritdoc />
    protected override int BatchSize => 1;

    /// <inheritdoc />
    protected override bool CanShareBatch(SmtpBounce first, SmtpBounce next) => false;

    /// <inheritdoc />
    protected override HttpRequestMessage? BuildRequest(IReadOnlyList<SmtpBounce> batch, out string? failure)
    {
        if (HeraldBaseUrl.Resolve(Options, services) is not { } baseUrl)
        {
            failure = "callback address not known yet";
            return null;
        }

        var item = batch[0];
        if (secrets.EmailBounceToken(item.AccountId) is not { Length: > 0 } token)
        {
            failure = "no bounce token known for the account";
            return null;
        }

        failure = null;
        var content = new ByteArrayContent(item.Report);
        content.Headers.ContentType = new MediaTypeHeaderValue("message/rfc822");
        var request = new HttpRequestMessage(HttpMethod.Post, $"{baseUrl}/callbacks/email/{item.AccountId:D}") { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    /// <inheritdoc />
    protected override SmtpBounce? FollowUp(SmtpBounce item, long nowMs, int receiptDelayMs) => null;
}
