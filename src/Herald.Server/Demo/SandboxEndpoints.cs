using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.Sandbox.Smpp;
using Herald.Sandbox.Smtp;
using Herald.Server.Hosting;
using Herald.Storage;

namespace Herald.Server.Demo;

/// <summary>
/// Keeps the embedded demo's sandbox accounts working when a start lands on other ports than the one before (a usual
/// port was taken, or the user chose another): the stored accounts name the earlier run's URL and simulator ports,
/// so at each start those are re-pointed at this run's. The earlier run's endpoints are kept in a small file beside
/// the demo key; without one (a data folder from before this file existed) they are the usual ports.
/// </summary>
/// <remarks>
/// Re-pointing the stored accounts, rather than resolving the sandbox's address at send time, keeps the connectors
/// unaware of the sandbox: a sandbox account stays an ordinary account that an operator can read and copy. It is
/// safe only because the embedded demo is one node that owns its database; other modes never run this.
/// </remarks>
public sealed class SandboxEndpoints(ITenantStore tenants, IProviderStore providers, SelfAddress self, SmtpSimulator smtp, SmppSimulator smpp)
{
    /// <summary>Where a run's sandbox listened: Herald's base URL and the SMTP and SMPP simulators' ports.</summary>
    public sealed record Endpoints(string BaseUrl, int? Smtp, int? Smpp);

    /// <summary>What a data folder from before the endpoints file was written with.</summary>
    public static readonly Endpoints Usual = new($"http://localhost:{DemoPorts.Http}", DemoPorts.Smtp, DemoPorts.Smpp);

    /// <summary>Re-points every stored account from the endpoints in <paramref name="stateFile"/> to this run's,
    /// then records this run's. Answers how many accounts changed.</summary>
    public async Task<int> RepointAsync(string stateFile, CancellationToken ct)
    {
        var now = new Endpoints(self.BaseUrl, smtp.Port, smpp.Port);
        var before = await ReadAsync(stateFile, ct) ?? Usual;
        var changed = 0;
        if (before != now)
        {
            foreach (var tenant in await tenants.ListTenantsAsync(ct))
            {
                foreach (var account in await providers.ListAsync(tenant.Id, ct))
                {
                    if (Repoint(account.Settings, before, now) is { } settings)
                    {
                        await providers.UpdateAsync(account with { Settings = settings }, ct);
                        changed++;
                    }
                }
            }
        }

        await File.WriteAllTextAsync(stateFile, JsonSerializer.Serialize(now, HeraldJson.Default.Endpoints), ct);
        return changed;
    }

    /// <summary>The settings with the earlier run's URL prefix and simulator ports replaced, or null when none occurs.</summary>
    public static string? Repoint(string settings, Endpoints before, Endpoints now)
    {
        JsonObject root;
        try
        {
            if (JsonNode.Parse(settings) is not JsonObject parsed)
            {
                return null;
            }

            root = parsed;
        }
        catch (JsonException)
        {
            return null;   // text that only looks like JSON: not ours to change
        }

        return Visit(root, before, now) ? root.ToJsonString() : null;
    }

    private static bool Visit(JsonObject node, Endpoints before, Endpoints now)
    {
        var changed = false;
        // The simulators listen on 127.0.0.1: an account naming that host and the earlier port is the sandbox's.
        if (node["host"]?.GetValueKind() == JsonValueKind.String && node["host"]!.GetValue<string>() == SmtpSimulator.Host
            && node["port"]?.GetValueKind() == JsonValueKind.Number && node["port"]!.GetValue<int>() is var port)
        {
            var moved = port == before.Smtp && now.Smtp is { } smtpPort ? smtpPort
                : port == before.Smpp && now.Smpp is { } smppPort ? smppPort
                : port;
            if (moved != port)
            {
                node["port"] = moved;
                changed = true;
            }
        }

        foreach (var (name, value) in node.ToList())
        {
            switch (value)
            {
                case JsonObject inner:
                    changed |= Visit(inner, before, now);
                    break;
                case JsonValue text when text.GetValueKind() == JsonValueKind.String:
                    var s = text.GetValue<string>();
                    if (s == before.BaseUrl || s.StartsWith(before.BaseUrl + "/", StringComparison.Ordinal))
                    {
                        node[name] = now.BaseUrl + s[before.BaseUrl.Length..];
                        changed = true;
                    }
                    else if (s.StartsWith('{') && Repoint(s, before, now) is { } nested)
                    {
                        // A credential held as JSON text (the push sandbox's service account names its token URL).
                        node[name] = nested;
                        changed = true;
                    }

                    break;
            }
        }

        return changed;
    }

    private static async Task<Endpoints?> ReadAsync(string stateFile, CancellationToken ct)
    {
        if (!File.Exists(stateFile))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(await File.ReadAllTextAsync(stateFile, ct), HeraldJson.Default.Endpoints);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
