using System.Globalization;
using System.Text;
using Herald.Ingest.Authentication;
using Herald.Server.Admin;
using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.Demo;

/// <summary>Settings under <c>Herald:Demo</c>.</summary>
public sealed class DemoOptions
{
    public const string Section = "Herald:Demo";

    /// <summary>Create a demo tenant and key on first start and print how to use them. Defaults to on in the
    /// embedded mode (SQLite with the sandbox) and off otherwise.</summary>
    public bool? Enabled { get; set; }

    /// <summary>Where the demo key is kept between starts (it is stored hashed in the database, so this file is
    /// the only copy). Default: beside the SQLite database.</summary>
    public string? KeyFile { get; set; }
}

/// <summary>
/// The one-command experience: on first start of an embedded node, creates "Demo Bank" with sandbox providers
/// and an API key, and on every start prints the URLs, the key and a curl example that gets delivered.
/// </summary>
public sealed class DemoBootstrap(
    IOptions<DemoOptions> demo,
    IOptions<HeraldOptions> herald,
    IOptions<Sandbox.SandboxOptions> sandbox,
    IConfiguration configuration,
    ITenantStore tenants,
    TenantProvisioning provisioning,
    SandboxEndpoints endpoints,
    DemoPortNotes portNotes,
    SelfAddress self)
{
    public bool Enabled => demo.Value.Enabled ?? (herald.Value.Storage == "sqlite" && sandbox.Value.Enabled);

    public async Task RunAsync(TextWriter output, CancellationToken ct)
    {
        var keyFile = demo.Value.KeyFile ?? Path.Combine(SqliteFolder(), "demo-key");
        string key;
        if (File.Exists(keyFile))
        {
            key = (await File.ReadAllTextAsync(keyFile, ct)).Trim();
        }
        else if ((await tenants.ListTenantsAsync(ct)).Count == 0)
        {
            var tenant = await provisioning.CreateTenantAsync("Demo Bank", ct);
            key = ApiKeys.Generate();
            await tenants.CreateApiKeyAsync(tenant.Id, null, [Roles.Send, Roles.Read, Roles.Admin], ApiKeys.Hash(key), ApiKeys.DisplayPrefix(key), ct);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(keyFile))!);
            await File.WriteAllTextAsync(keyFile, key + "\n", ct);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        else
        {
            // Tenants exist but the key file is gone: never guess, never print a stored secret.
            await output.WriteLineAsync($"Herald: demo key file {keyFile} not found; create keys with the admin API (Herald:AdminKey).");
            return;
        }

        // This run's ports may differ from the last run's (a usual one was taken): the sandbox accounts follow.
        await endpoints.RepointAsync(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(keyFile))!, "sandbox-endpoints.json"), ct);
        foreach (var line in portNotes.Lines)
        {
            await output.WriteLineAsync(line);
        }

        await output.WriteAsync(Banner(self.BaseUrl, key));
    }

    private string SqliteFolder()
    {
        var connectionString = configuration.GetConnectionString("Sqlite") ?? "Data Source=data/herald.db";
        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString);
        return Path.GetDirectoryName(Path.GetFullPath(builder.DataSource)) ?? ".";
    }

    internal static string Banner(string baseUrl, string key)
    {
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine("  Herald is running (embedded mode: SQLite, in-process cache, provider sandbox).");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"  API          {baseUrl}/v1/notifications");
        text.AppendLine(CultureInfo.InvariantCulture, $"  OpenAPI      {baseUrl}/openapi/v1.json");
        text.AppendLine(CultureInfo.InvariantCulture, $"  Sandbox      {baseUrl}/sandbox/messages   (what simulated customers received)");
        text.AppendLine(CultureInfo.InvariantCulture, $"  Metrics      {baseUrl}/metrics");
        text.AppendLine(CultureInfo.InvariantCulture, $"  Demo key     {key}");
        text.AppendLine();
        text.AppendLine("  Send a notification:");
        text.AppendLine(CultureInfo.InvariantCulture, $"    curl -s {baseUrl}/v1/notifications -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\");
        text.AppendLine("      -d '{\"type\":\"card.transaction\",\"customer\":{\"phone\":\"+4915112345678\"},\"data\":{\"text\":\"You paid 12.50 EUR at Cafe Luna\"}}'");
        text.AppendLine();
        text.AppendLine("  Then see it arrive and trace it:");
        text.AppendLine(CultureInfo.InvariantCulture, $"    curl -s '{baseUrl}/sandbox/messages?to=%2B4915112345678'");
        text.AppendLine(CultureInfo.InvariantCulture, $"    curl -s {baseUrl}/v1/notifications/<id> -H 'Authorization: Bearer {key}'");
        text.AppendLine();
        return text.ToString();
    }
}
