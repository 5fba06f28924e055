using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Herald.Sandbox.Callbacks;

/// <summary>Where the sandbox's own webhooks reach Herald: <c>Herald:Sandbox:CallbackBaseUrl</c>, else the address the
/// host listens on (a wildcard turned into loopback). Null until the host has started listening.</summary>
internal static class HeraldBaseUrl
{
    public static string? Resolve(SandboxOptions options, IServiceProvider services)
    {
        if (!string.IsNullOrWhiteSpace(options.CallbackBaseUrl))
        {
            return options.CallbackBaseUrl.TrimEnd('/');
        }

        var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
        if (addresses is null || addresses.Count == 0)
        {
            return null;
        }

        var first = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.First();
        return ToLoopback(first).TrimEnd('/');
    }

    /// <summary>Turns a wildcard listening address (0.0.0.0, [::], +, *) into one a client can call.</summary>
    internal static string ToLoopback(string address)
    {
        foreach (var wildcard in (string[])["0.0.0.0", "[::]", "+", "*"])
        {
            var marker = "://" + wildcard + ":";
            var at = address.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                return string.Concat(address.AsSpan(0, at), "://127.0.0.1:", address.AsSpan(at + marker.Length));
            }
        }

        return address;
    }
}
