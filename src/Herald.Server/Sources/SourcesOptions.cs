using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Sockets;

namespace Herald.Server.Sources;

/// <summary>Settings under <c>Herald:Sources</c> (docs/CONFIGURATION.md).</summary>
public sealed class SourcesOptions
{
    public const string Section = "Herald:Sources";

    /// <summary>How far a signed request's timestamp may be from the server's clock, either way; also how long a used
    /// signature is remembered (replay protection).</summary>
    [Range(typeof(TimeSpan), "00:00:10", "01:00:00")]
    public TimeSpan SignatureWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The peers whose client-certificate header is believed: IP addresses or CIDR ranges (<c>10.0.9.0/24</c>) of the
    /// proxy that connects to Herald (HAProxy behind nginx, or nginx itself), which must pass on only what nginx set.
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];

    /// <summary><see cref="TrustedProxies"/> parsed (a single address is a /32 or /128 range); null when an entry is invalid.</summary>
    public static IReadOnlyList<IPNetwork>? ParseTrustedProxies(IEnumerable<string> entries)
    {
        var networks = new List<IPNetwork>();
        foreach (var entry in entries)
        {
            if (IPNetwork.TryParse(entry, out var network))
            {
                networks.Add(network);
            }
            else if (IPAddress.TryParse(entry, out var address))
            {
                networks.Add(new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                return null;
            }
        }

        return networks;
    }

    /// <summary>The header in which the proxy forwards the verified client certificate's SHA-256 fingerprint.</summary>
    [Required]
    public string ClientCertificateHeader { get; set; } = "X-Client-Cert-Fingerprint";

    /// <summary>Largest XML or JSON document a source may post.</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxDocumentBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Largest batch file (streamed; memory use does not grow with it).</summary>
    [Range(1024L, long.MaxValue)]
    public long MaxFileBytes { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>Longest file line; a longer line is rejected (and skipped) without being buffered.</summary>
    [Range(64, 1024 * 1024)]
    public int MaxLineLength { get; set; } = 64 * 1024;

    /// <summary>Lines stored per transaction while a file streams in (one multi-row insert each; the next batch is
    /// mapped while one is stored, so at most two are held).</summary>
    [Range(1, 50_000)]
    public int FileBatchSize { get; set; } = 5_000;

    /// <summary>Rejected items listed in a report; beyond that only counted (the report says it is capped).</summary>
    [Range(1, 100_000)]
    public int MaxReportedErrors { get; set; } = 1_000;
}
