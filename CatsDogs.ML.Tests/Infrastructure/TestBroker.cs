using System.Diagnostics;
using Xunit;

namespace CatsDogs.ML.Tests;

/// <summary>
/// The RabbitMQ broker the broker tests use: <c>$CATSDOGS_BROKER</c> (CI starts Debian's <c>rabbitmq-server</c> on
/// 127.0.0.1 and sets it). Each user gets its own virtual host, made and removed with <c>rabbitmqctl</c>, so its
/// queues meet no other test's.
/// </summary>
internal sealed class TestBroker : IDisposable
{
    public const string Variable = "CATSDOGS_BROKER";

    private static readonly TimeSpan CtlTimeout = TimeSpan.FromSeconds(90);

    public TestBroker()
    {
        var root = new System.Uri(Environment.GetEnvironmentVariable(Variable) ?? throw new InvalidOperationException($"Set {Variable} (amqp://guest:guest@127.0.0.1:5672/) to a running broker."));
        Assert.True(root.Host is "127.0.0.1" or "localhost", $"{Variable} must point at a broker on 127.0.0.1, not {root.Host}: tests talk to this machine only.");
        VirtualHost = "catsdogs-test-" + Guid.NewGuid().ToString("N")[..12];
        var user = System.Uri.UnescapeDataString(root.UserInfo.Split(':')[0] is { Length: > 0 } u ? u : "guest");
        Ctl("add_vhost", VirtualHost);
        Ctl("set_permissions", "-p", VirtualHost, user, ".*", ".*", ".*");
        Uri = new UriBuilder(root) { Path = "/" + VirtualHost }.Uri.ToString();
    }

    /// <summary>Why the broker tests cannot run here, or null (in CI they run, and fail, whatever is missing).</summary>
    public static string? Missing =>
        Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } ? $"Needs a RabbitMQ broker on 127.0.0.1: start rabbitmq-server and set {Variable}=amqp://guest:guest@127.0.0.1:5672/ (.ci/run does)."
        : !File.Exists("/usr/sbin/rabbitmqctl") ? "Needs rabbitmqctl (Debian's rabbitmq-server) to make a virtual host per test and restart the broker."
        : TestEnvironment.MissingRealData;

    /// <summary>The broker URI with this test's virtual host.</summary>
    public string Uri { get; }

    public string VirtualHost { get; }

    /// <summary>Stops and starts the broker application (connections drop; durable queues and persistent messages stay).</summary>
    public static void Restart(TimeSpan down)
    {
        Ctl("stop_app");
        Thread.Sleep(down);
        Ctl("start_app");
        Ctl("await_startup");
    }

    /// <summary>Runs <c>rabbitmqctl</c>, bounded in time; its output, or a failed assertion.</summary>
    public static string Ctl(params string[] args)
    {
        var start = new ProcessStartInfo("/usr/sbin/rabbitmqctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(CtlTimeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"rabbitmqctl {string.Join(' ', args)} did not finish within {CtlTimeout.TotalSeconds:F0} s.");
        }

        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"rabbitmqctl {string.Join(' ', args)} failed ({process.ExitCode}): {stdout.Result} {stderr.Result}");
        return stdout.Result;
    }

    public void Dispose()
    {
        try
        {
            Ctl("delete_vhost", VirtualHost);
        }
        catch (Exception e) when (e is Xunit.Sdk.XunitException or InvalidOperationException)
        {
            // A broker left stopped by a failed test: its virtual host goes with the node at the end of CI.
        }
    }
}

/// <summary>A test that needs the broker and the real photos: skipped, saying what is missing, except in CI.</summary>
[Xunit.Sdk.XunitTestCaseDiscoverer("Xunit.Sdk.SkippableFactDiscoverer", "Xunit.SkippableFact")]
public sealed class BrokerFactAttribute : FactAttribute
{
    public BrokerFactAttribute()
    {
        if (TestBroker.Missing is { } missing && !TestEnvironment.InCi)
        {
            Skip = missing;
        }
    }
}
