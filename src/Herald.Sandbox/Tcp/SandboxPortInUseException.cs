namespace Herald.Sandbox.Tcp;

/// <summary>A simulator's port, asked for by <paramref name="setting"/>, is taken: the start ends with this one line.</summary>
public sealed class SandboxPortInUseException(string setting, int port, Exception inner)
    : IOException($"{setting} asks for port {port}, which is in use: free it, choose another, or set 0 for a free one.", inner)
{
    public string Setting { get; } = setting;

    public int Port { get; } = port;
}
