using System.Net;
using System.Net.Sockets;

namespace Herald.Testing;

/// <summary>A loopback port free at this moment (bound to 0 and released). Another process may take it before the
/// caller binds it: servers started on it retry on a bind failure (<see cref="ClosedPort"/> holds one for good).</summary>
public static class FreePort
{
    public static int Pick()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
