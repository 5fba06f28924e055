using Herald.Sandbox.Fcm;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Outages;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Smpp;
using Herald.Sandbox.Sms;
using Herald.Sandbox.Smtp;
using Herald.Sandbox.Telegram;
using Herald.Sandbox.Throttling;
using Herald.Sandbox.WhatsApp;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Herald.Sandbox;

/// <summary>Registers and mounts the provider sandbox.</summary>
public static class SandboxExtensions
{
    /// <summary>
    /// Registers the simulators, the mailbox, run-time settings, stats, the receipt dispatchers (WhatsApp webhooks,
    /// Twilio SMS status callbacks) and the SMTP simulator (a hosted service listening on
    /// <see cref="SandboxOptions.SmtpPort"/>), with <see cref="SandboxOptions"/> bound from <c>Herald:Sandbox</c> and validated at start.
    /// </summary>
    public static IServiceCollection AddHeraldSandbox(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SandboxOptions>()
            .Bind(configuration.GetSection(SandboxOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SandboxMailbox>();
        services.TryAddSingleton<SandboxSettings>();
        services.TryAddSingleton<SandboxRateLimiter>();
        services.TryAddSingleton<SandboxStats>();
        services.TryAddSingleton<SandboxOutages>();
        services.TryAddSingleton<Callbacks.ISandboxCallbackSecrets, Callbacks.ConfiguredCallbackSecrets>();
        services.TryAddSingleton<WhatsAppWebhookDispatcher>();
        services.AddHostedService(static sp => sp.GetRequiredService<WhatsAppWebhookDispatcher>());
        services.TryAddSingleton<TwilioCallbackDispatcher>();
        services.AddHostedService(static sp => sp.GetRequiredService<TwilioCallbackDispatcher>());
        services.TryAddSingleton<Smtp.SmtpBounceDispatcher>();
        services.AddHostedService(static sp => sp.GetRequiredService<Smtp.SmtpBounceDispatcher>());
        services.TryAddSingleton<WhatsAppSimulator>();
        services.TryAddSingleton<TelegramSimulator>();
        services.TryAddSingleton<TwilioSimulator>();
        services.TryAddSingleton<Replies.ISandboxReplyReferences, Replies.NoReplyReferences>();
        services.TryAddSingleton<Replies.SandboxReplies>();
        services.TryAddSingleton<SmtpSimulator>();
        services.AddHostedService(static sp => sp.GetRequiredService<SmtpSimulator>());
        services.TryAddSingleton<SmppSimulator>();
        services.AddHostedService(static sp => sp.GetRequiredService<SmppSimulator>());
        services.AddFcmSimulator();
        return services;
    }

    /// <summary>
    /// Mounts everything under <c>/sandbox</c> when <see cref="SandboxOptions.Enabled"/>:
    /// the WhatsApp Cloud API, Telegram Bot API and Twilio SMS simulators and the mailbox, settings and stats endpoints.
    /// With <see cref="SandboxOptions.TelegramAtRoot"/> the Bot API is also served at <c>/bot{token}/{method}</c>.
    /// <c>GET /sandbox/smtp</c> tells where the SMTP simulator listens (<c>{"host","port"}</c>, port null when off);
    /// <c>GET /sandbox/smpp</c> does the same for the SMPP SMSC simulator. The read and control endpoints need
    /// <see cref="SandboxOptions.ControlKey"/> when one is set (<see cref="SandboxControl"/>); the vendor paths do not.
    /// </summary>
    public static IEndpointRouteBuilder MapHeraldSandbox(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<IOptions<SandboxOptions>>().Value;
        if (!options.Enabled)
        {
            return app;
        }

        var sandbox = app.MapGroup("/sandbox");
        sandbox.MapSandboxOutages();

        sandbox.MapPost(
            "/whatsapp/{version}/{phoneNumberId}/messages",
            (HttpContext context, string phoneNumberId, [FromServices] WhatsAppSimulator simulator, CancellationToken cancellationToken) =>
                simulator.SendAsync(context, phoneNumberId, cancellationToken));

        sandbox.MapPost(
            "/sms/2010-04-01/Accounts/{accountSid}/Messages.json",
            (HttpContext context, string accountSid, [FromServices] TwilioSimulator simulator, CancellationToken cancellationToken) =>
                simulator.SendAsync(context, accountSid, cancellationToken));

        sandbox.MapFcmSimulator();

        sandbox.MapMethods("/telegram/bot{token}/{method}", [HttpMethods.Get, HttpMethods.Post], TelegramAsync);
        if (options.TelegramAtRoot)
        {
            app.MapMethods("/bot{token}/{method}", [HttpMethods.Get, HttpMethods.Post], TelegramAsync).WithSandboxOutages();
        }

        sandbox.MapGet(
            "/smtp",
            ([FromServices] SmtpSimulator smtp) => TypedResults.Ok(new
            {
                host = SmtpSimulator.Host,
                port = smtp.Port,
                connectionsAccepted = smtp.ConnectionsAccepted,
                activeConnections = smtp.ActiveConnections,
            })).RequireSandboxControlKey();

        sandbox.MapGet(
            "/smpp",
            ([FromServices] SmppSimulator smpp) => TypedResults.Ok(new
            {
                host = SmppSimulator.Host,
                port = smpp.Port,
                connectionsAccepted = smpp.ConnectionsAccepted,
                activeConnections = smpp.ActiveConnections,
                enquireLinksAnswered = smpp.EnquireLinksAnswered,
                receiptsDelivered = smpp.ReceiptsDelivered,
            })).RequireSandboxControlKey();

        sandbox.MapGet(
            "/messages",
            ([FromQuery] string? channel, [FromQuery] string? to, [FromServices] SandboxMailbox mailbox) =>
                TypedResults.Ok(mailbox.Find(channel, to))).RequireSandboxControlKey();

        sandbox.MapDelete(
            "/messages",
            ([FromServices] SandboxMailbox mailbox, [FromServices] WhatsAppSimulator whatsApp, [FromServices] TelegramSimulator telegram) =>
            {
                mailbox.Clear();
                whatsApp.Reset();
                telegram.Reset();
                return TypedResults.NoContent();
            }).RequireSandboxControlKey();

        sandbox.MapPost(
            "/replies",
            ([FromBody] Replies.SandboxReplyRequest? request, [FromServices] Replies.SandboxReplies replies, CancellationToken cancellationToken) =>
                replies.ReplyAsync(request, cancellationToken)).RequireSandboxControlKey();

        sandbox.MapGet("/settings", ([FromServices] SandboxSettings settings) => TypedResults.Ok(settings.Current)).RequireSandboxControlKey();

        sandbox.MapPut(
            "/settings",
            IResult ([FromBody] SandboxSettingsUpdate update, [FromServices] SandboxSettings settings) =>
            {
                var errors = SandboxSettings.Validate(update);
                return errors.Count > 0
                    ? TypedResults.ValidationProblem(errors)
                    : TypedResults.Ok(settings.Apply(update));
            }).RequireSandboxControlKey();

        sandbox.MapGet("/stats", ([FromServices] SandboxStats stats) => TypedResults.Ok(stats.Snapshot())).RequireSandboxControlKey();

        sandbox.MapDelete(
            "/stats",
            ([FromServices] SandboxStats stats, [FromServices] SandboxRateLimiter rateLimiter) =>
            {
                stats.Reset();
                rateLimiter.Reset();
                return TypedResults.NoContent();
            }).RequireSandboxControlKey();

        return app;
    }

    private static Task<IResult> TelegramAsync(
        HttpContext context,
        string token,
        string method,
        [FromServices] TelegramSimulator simulator,
        CancellationToken cancellationToken) =>
        simulator.HandleAsync(context, token, method, cancellationToken);
}
