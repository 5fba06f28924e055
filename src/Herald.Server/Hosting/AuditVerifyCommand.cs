using System.Globalization;
using Herald.Storage;

namespace Herald.Server.Hosting;

/// <summary>
/// <c>herald audit-verify [--tenant id]</c> (issue #17, docs/OPERATIONS.md "Checking the audit trail"): checks the hash
/// chain of every tenant (or only the one named) and the system chain, as <c>GET /v1/audit/verify</c> does, without an
/// API key or a running node: one line per chain with the entries checked and, for a broken one, the first broken link.
/// The process exits 1 when a chain is broken, 0 when all hold (2 for a bad argument, as every verb).
/// </summary>
internal static class AuditVerifyCommand
{
    public static async Task<bool> RunAsync(IServiceProvider services, IConfiguration configuration, TextWriter output, CancellationToken ct)
    {
        var audit = services.GetRequiredService<IAuditStore>();
        var chains = new List<(Guid? Id, string Name)>();
        if (configuration["tenant"] is { } given)
        {
            chains.Add(Guid.TryParse(given, out var tenant)
                ? (tenant, given)
                : throw new StartupException($"--tenant must be a tenant id, not '{given}'."));
        }
        else
        {
            chains.Add((null, "system"));
            chains.AddRange((await services.GetRequiredService<ITenantStore>().ListTenantsAsync(ct)).Select(t => ((Guid?)t.Id, t.Name)));
        }

        var ok = true;
        foreach (var (id, name) in chains)
        {
            var result = await audit.VerifyAsync(id, ct);
            var chain = id is { } tenantId ? string.Create(CultureInfo.InvariantCulture, $"tenant {tenantId:D} ({name})") : "system";
            var purged = result.PurgedThroughSeq > 0 ? string.Create(CultureInfo.InvariantCulture, $" after the purged entries up to {result.PurgedThroughSeq}") : "";
            await output.WriteLineAsync(result.Ok
                ? string.Create(CultureInfo.InvariantCulture, $"audit-verify: {chain}: {result.Checked} entries checked{purged}, ok")
                : string.Create(CultureInfo.InvariantCulture,
                    $"audit-verify: {chain}: {result.Checked} entries checked{purged}, BROKEN at seq {result.FirstBrokenSeq} (entry {(result.FirstBrokenId is { } e ? e.ToString("D") : "missing")}): {result.Reason}"));
            ok &= result.Ok;
        }

        return ok;
    }
}
