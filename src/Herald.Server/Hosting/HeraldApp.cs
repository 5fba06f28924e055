using Herald.Channels;
using Herald.Channels.Providers.RateLimiting;
using Herald.Core.Routing;
using Herald.Sandbox;
using Herald.Server.Admin;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Server.Changes;
using Herald.Server.WebConsole;
using Herald.Server.Demo;
using Herald.Server.Callbacks;
using Herald.Server.Consents;
using Herald.Server.Customers;
using Herald.Server.Templates;
using Herald.Server.Delivery;
using Herald.Server.Digests;
using Herald.Server.Notifications;
using Herald.Server.Observability;
using Herald.Server.Operations;
using Herald.Server.Providers;
using Herald.Server.Quotas;
using Herald.Server.Reports;
using Herald.Server.Retention;
using Herald.Server.Erasure;
using Herald.Server.Replies;
using Herald.Server.Rules;
using Herald.Server.Sources;
using Herald.Server.Throttling;
using Herald.Server.Webhooks;
using Herald.Storage;
using Herald.Redis;
using Herald.Storage.Secrets;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace Herald.Server.Hosting;

/// <summary>The composition root: one place that decides what a Herald process is made of.</summary>
public static class HeraldApp
{
    /// <summary>Builds a Herald host for <paramref name="role"/>. Tests call this with their own configuration.</summary>
    public static WebApplication Build(HeraldRole role, string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        LogSafety.AddDefaultLogLevels(builder.Configuration);
        configure?.Invoke(builder);
        var configuration = builder.Configuration;
        // The embedded demo: its usual ports (HTTP 5000, sandbox SMTP 2525, SMPP 2775) when free, else free ones, and its
        // stored sandbox accounts follow them at each start (DemoPorts, SandboxEndpoints); its webhooks may reach a receiver on the same
        // machine (loopback only — never private, link-local or metadata ranges; said at start). Its provider
        // accounts reach its own sandbox through SandboxEgressAllowance, which allows exactly the sandbox's listeners.
        var embedded = configuration["Herald:Storage"] is null or "sqlite";
        var embeddedDemo = embedded && configuration["Herald:Demo:Enabled"] is not "false";
        var portNotes = new Demo.DemoPortNotes([]);
        if (embeddedDemo)
        {
            portNotes = Demo.DemoPorts.Choose(configuration);
            configuration["Herald:Webhooks:AllowInsecureUrls"] ??= "true";
            configuration["Herald:Webhooks:AllowLoopback"] ??= "true";
            // A developer's own machine: the demo prints both URLs. Everywhere else they must be asked for.
            configuration["Herald:Operations:ExposeMetrics"] ??= "true";
            configuration["Herald:Operations:ExposeOpenApi"] ??= "true";
        }

        // The sandbox (simulated vendors that record every tenant's recipients and texts) is on by default only in the
        // embedded mode; with PostgreSQL it must be asked for. Outside the embedded demo its read and control endpoints
        // need a key: Herald:Sandbox:ControlKey, else the system admin key (issue #13, docs/CONFIGURATION.md).
        configuration["Herald:Sandbox:Enabled"] ??= embedded ? "true" : "false";
        if (!embeddedDemo && configuration["Herald:AdminKey"] is { Length: > 0 } adminKey)
        {
            configuration["Herald:Sandbox:ControlKey"] ??= adminKey;
        }

        var services = builder.Services;

        services.AddOptions<HeraldOptions>().BindConfiguration(HeraldOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<DefaultRouteOptions>().BindConfiguration("Herald:Routing");
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        // TryAdd: a test host may bring its own clock (e.g. one it moves forward to end a quiet-hours window).
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<HeraldMetrics>();
        services.AddHeraldObservability(configuration, role.Delivers());
        services.AddSingleton<SelfAddress>();
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, HeraldJson.Default));
        services.AddHeraldOpenApi();
        services.AddOpenTelemetry().WithMetrics(m => m
            .AddMeter(HeraldMetrics.MeterName)
            .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter());
        services.AddHeraldTracing(configuration, role);

        // Infrastructure: storage (with its change feed), Redis, secrets.
        services.AddHeraldOperations(configuration);
        services.AddHeraldStorage(configuration);
        services.AddHeraldRedis(configuration);
        services.AddHeraldSecrets(configuration);
        services.AddHeraldChanges(configuration);

        // Channels and the sandbox.
        services.AddHeraldChannels(configuration);
        services.AddSingleton<IRateLimitMetrics>(sp => sp.GetRequiredService<HeraldMetrics>());
        services.AddHeraldRateLimits(configuration);
        services.AddSingleton<Sandbox.Callbacks.ISandboxCallbackSecrets, SandboxAccountSecrets>();
        services.AddHeraldSandbox(configuration);
        services.AddSingleton<Herald.Channels.Egress.IEgressAllowance, SandboxEgressAllowance>();
        services.AddOptions<SandboxOptions>().Validate(
            o => !o.Enabled || embeddedDemo || !string.IsNullOrEmpty(o.ControlKey),
            "Herald:Sandbox:Enabled outside the embedded demo needs a key for the sandbox's read and control endpoints: set Herald:Sandbox:ControlKey or Herald:AdminKey.");

        // Features, one line each.
        services.AddHeraldAuthentication(configuration);
        services.AddHeraldConsole(configuration);
        services.AddHeraldAdmin(configuration);
        services.AddHeraldAudit(role);
        services.AddHeraldDemo(configuration, portNotes);
        services.AddHeraldRules(configuration);
        services.AddHeraldThrottling(configuration);
        services.AddHeraldQuotas(configuration);
        services.AddHeraldCustomers(configuration);
        services.AddHeraldTemplates(configuration);
        services.AddHeraldSources(configuration);
        services.AddHeraldProviders(configuration, role);
        services.AddHeraldReports(configuration, role);
        services.AddHeraldRetention(configuration, role);
        services.AddHeraldErasure(configuration);
        services.AddHeraldWebhooks(configuration, role);
        services.AddHeraldDigests(configuration, role);
        services.AddHeraldNotifications(configuration, role);
        services.AddHeraldDelivery(configuration, role);
        services.AddHeraldReplies();
        services.AddHeraldConsents();

        // Last, so it wraps every provider, a test's or an operator's too.
        LogSafety.ScrubDatabaseErrors(services);
        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(Notifications.RequestBody.RefuseUnstorableQueryAsync);
        app.Use(AuthRefusals.MiddlewareAsync);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseMiddleware<Authentication.ViewerRedaction>();
        app.Use(SandboxAudit.MiddlewareAsync);
        app.MapHealthApi();
        app.MapOperationsEndpoints(role.ServesApi());
        if (role.ServesApi())
        {
            app.MapNotificationsApi();
            app.MapRulesApi();
            app.MapAdminApi();
            app.MapAuditApi();
            app.MapCustomersApi();
            app.MapRepliesApi();
            app.MapTemplatesApi();
            app.MapTemplatePreviewApi();
            app.MapSourcesApi();
            app.MapProvidersApi();
            SandboxBridge.SandboxBridgeApi.MapSandboxBridgeApi(app);
            app.MapReportsApi();
            app.MapRetentionApi();
            app.MapKeywordsApi();
            app.MapConsentsApi();
            app.MapErasureApi();
            app.MapCallbacksApi();
            app.MapWebhooksApi();
            app.MapHeraldConsole();
            if (app.Services.GetRequiredService<IOptions<SandboxOptions>>().Value.Enabled)
            {
                app.MapHeraldSandbox();
            }
        }

        return app;
    }

    /// <summary>Migrates when configured, then runs until stopped; the migrate role migrates and returns.
    /// Misconfigurations surface as <see cref="StartupException"/> with one clear sentence.</summary>
    public static async Task RunAsync(this WebApplication app, HeraldRole role)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Herald");
        var options = app.Services.GetRequiredService<IOptions<HeraldOptions>>().Value;
        logger.Starting(role.ToString().ToLowerInvariant(), options.Storage);
        await PrepareStorageAsync(app.Services, role, options, app.Lifetime.ApplicationStopping);
        logger.Migrated();
        if (role == HeraldRole.Migrate)
        {
            return;
        }

        try
        {
            // Resolved now so a missing or bad key ends the start with one line, not the first credential read.
            app.Services.GetRequiredService<ISecretProtector>();
        }
        catch (SecretsConfigurationException e)
        {
            throw new StartupException(e.Message);
        }

        if (SecretsServiceCollectionExtensions.KeyFileBesideDatabase(app.Configuration) is var (keyFile, folder))
        {
            logger.KeyBesideDatabase(keyFile, folder);
        }

        if (role == HeraldRole.Reencrypt)
        {
            await ReencryptCommand.RunAsync(app.Services, app.Configuration, Console.Out, app.Lifetime.ApplicationStopping);
            return;
        }

        if (role == HeraldRole.AuditVerify)
        {
            // The exit code is the answer (Program returns Environment.ExitCode): 1 when a chain is broken.
            Environment.ExitCode = await AuditVerifyCommand.RunAsync(app.Services, app.Configuration, Console.Out, app.Lifetime.ApplicationStopping) ? 0 : 1;
            return;
        }

        try
        {
            await app.StartAsync();
        }
        // Before the general case below: it names the setting.
        catch (Sandbox.Tcp.SandboxPortInUseException e)
        {
            throw new StartupException(e.Message);
        }
        catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse }
                                    || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            throw new StartupException($"The listen address is in use ({e.Message}). Choose another with --urls http://localhost:PORT or ASPNETCORE_URLS.");
        }

        var demo = app.Services.GetRequiredService<Demo.DemoBootstrap>();
        if (role.ServesApi() && demo.Enabled)
        {
            await demo.RunAsync(Console.Out, app.Lifetime.ApplicationStopping);
        }

        await app.WaitForShutdownAsync();
    }

    private static async Task PrepareStorageAsync(IServiceProvider services, HeraldRole role, HeraldOptions options, CancellationToken ct)
    {
        try
        {
            var migrator = services.GetRequiredService<IStorageMigrator>();
            if (role == HeraldRole.Migrate || options.MigrateOnStart)
            {
                await migrator.MigrateAsync(ct);
                return;
            }

            var pending = await migrator.PendingAsync(ct);
            if (pending.Count > 0)
            {
                throw new StartupException(
                    $"The database lacks {pending.Count} migration(s) ({string.Join(", ", pending)}). Run 'herald migrate' (dotnet run --project src/Herald.Server -- migrate) or set Herald:MigrateOnStart=true.");
            }
        }
        catch (ArgumentException e)
        {
            // The backend parses its connection string when first resolved.
            var name = options.Storage == "postgres" ? "Postgres" : "Sqlite";
            throw new StartupException($"ConnectionStrings:{name} is invalid: {e.Message}");
        }
        catch (Exception e) when (e is not StartupException and not OperationCanceledException)
        {
            throw new StartupException($"Cannot use the {options.Storage} database: {Describe(e)}");
        }
    }

    private static string Describe(Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null && inner.Message.Length < 20)
        {
            inner = inner.InnerException;
        }

        return inner.Message.Split('\n')[0].Trim() + (e is Npgsql.NpgsqlException ? " (check ConnectionStrings:Postgres and that PostgreSQL is running)" : "");
    }
}

/// <summary>A misconfiguration found at start: reported as one clear line, not a stack trace.</summary>
public sealed class StartupException(string message) : Exception(message);
