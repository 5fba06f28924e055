using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Herald.Testing;

/// <summary>
/// Loopback ports that refuse connections for the whole test run. A port picked by binding 0 and releasing it can be
/// taken by any other process a moment later (and then answer); this one stays bound without listening, so the
/// kernel refuses every connection to it and nobody else can take it.
/// </summary>
public static class ClosedPort
{
    private static readonly ConcurrentBag<Socket> Held = [];

    /// <summary>A loopback port that refuses connections until the test process ends.</summary>
    public static int Reserve()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Held.Add(socket);
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
