using Herald.Server.Hosting;

try
{
    var (role, rest) = HeraldRoles.Parse(args);
    var app = HeraldApp.Build(role, rest);
    await app.RunAsync(role);
    // 0 unless a verb set its answer (audit-verify: 1 for a broken chain).
    return Environment.ExitCode;
}
catch (Exception e) when (e is StartupException or ArgumentException or Microsoft.Extensions.Options.OptionsValidationException)
{
    await Console.Error.WriteLineAsync("herald: " + e.Message);
    return 2;
}
