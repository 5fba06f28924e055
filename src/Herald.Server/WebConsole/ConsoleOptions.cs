using System.ComponentModel.DataAnnotations;

namespace Herald.Server.WebConsole;

/// <summary>Settings under <c>Herald:Console</c>: the operator console served at <c>/console</c> (docs/CONSOLE.md).</summary>
public sealed class ConsoleOptions
{
    public const string Section = "Herald:Console";

    /// <summary>Serve the console (its files and its sign-in) on the roles that serve the API.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How long a console session lasts after sign-in; then the browser signs in again with the key. Short,
    /// since a session cannot be ended on the server before it runs out (sign-out deletes the cookie; revoking the
    /// key ends every session made with it).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The folder with the built console (index.html, assets/); by default <c>console/</c> beside the
    /// program, where the build puts it.</summary>
    public string? Root { get; set; }
}
