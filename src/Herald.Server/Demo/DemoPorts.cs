using System.Net;
using System.Net.Sockets;

namespace Herald.Server.Demo;

/// <summary>What the embedded demo said about its ports at start: printed above its banner.</summary>
public sealed record DemoPortNotes(IReadOnlyList<string> Lines);

/// <summary>
/// The embedded demo's usual ports (HTTP 5000, the sandbox's SMTP 2525 and SMPP 2775), used when free. A second demo
/// on the same machine, or anything else on one of them, must not end the start: a usual port that is taken is
/// replaced by a free one, with one line saying so. A port asked for explicitly is never replaced: if it is taken
/// the start ends with one line naming the setting (<see cref="Hosting.HeraldApp.RunAsync"/>).
/// </summary>
public static class DemoPorts
{
    public const int Http = 5000;
    public const int Smtp = 2525;
    public const int Smpp = 2775;

    public const string SmtpSetting = "Herald:Sandbox:SmtpPort";
    public const string SmppSetting = "Herald:Sandbox:SmppPort";

    /// <summary>Sets the demo's ports in <paramref name="configuration"/> where nothing asked for one.</summary>
    public static DemoPortNotes Choose(IConfiguration configuration)
    {
        var notes = new List<string>();
        if (!HttpAskedFor(configuration) && !IsFree(Http))
        {
            // Kestrel cannot pick a free port for "localhost" (two addresses); loopback IPv4 is what the banner prints.
            configuration[WebHostDefaults.ServerUrlsKey] = "http://127.0.0.1:0";
            notes.Add($"Herald: port {Http} is in use; the API listens on a free port instead (the URLs below).");
        }

        Pick(configuration, SmtpSetting, Smtp, "sandbox SMTP server", notes);
        Pick(configuration, SmppSetting, Smpp, "sandbox SMPP server", notes);
        return new DemoPortNotes(notes);
    }

    private static void Pick(IConfiguration configuration, string setting, int usual, string what, List<string> notes)
    {
        if (configuration[setting] is not null)
        {
            return;
        }

        if (IsFree(usual))
        {
            configuration[setting] = usual.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return;
        }

        configuration[setting] = "0";
        notes.Add($"Herald: port {usual} is in use; the {what} listens on a free port instead ({setting} fixes one).");
    }

    /// <summary>Any of the ways ASP.NET Core takes listen addresses: <c>--urls</c>, <c>ASPNETCORE_URLS</c> or
    /// <c>DOTNET_URLS</c>, <c>ASPNETCORE_HTTP_PORTS</c>, Kestrel endpoints.</summary>
    private static bool HttpAskedFor(IConfiguration configuration) =>
        !string.IsNullOrEmpty(configuration[WebHostDefaults.ServerUrlsKey])
        || !string.IsNullOrEmpty(configuration[WebHostDefaults.HttpPortsKey])
        || !string.IsNullOrEmpty(configuration[WebHostDefaults.HttpsPortsKey])
        || configuration.GetSection("Kestrel:Endpoints").Exists();

    /// <summary>Whether nothing listens on <paramref name="port"/> on either loopback address (what "localhost" binds).</summary>
    private static bool IsFree(int port)
    {
        foreach (var address in new[] { IPAddress.Loopback, IPAddress.IPv6Loopback })
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(address, port));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                return false;
            }
            catch (SocketException)
            {
                // No IPv6 on this machine: nothing can listen there either.
            }
        }

        return true;
    }
}
