using System.Diagnostics;
using Xunit;

namespace CatsDogs.ML.Tests;

/// <summary>
/// Runs the built <c>catsdogs</c> command line as a process, bounded by a timeout: a hang fails the test (the process
/// tree is killed) instead of stalling CI.
/// </summary>
internal static class CliProcess
{
    /// <summary>The CLI built beside the tests (samples/CatsDogs.Cli, same configuration).</summary>
    public static string Dll { get; } = Path.Combine(AppContext.BaseDirectory, "catsdogs.dll");

    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed);

    /// <summary>Sends a POSIX signal (e.g. INT, TERM) to a process.</summary>
    public static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {process.Id}")!;
        kill.WaitForExit(5000);
    }

    /// <summary>Waits (up to 60 s) until the process has written <paramref name="text"/> to stderr.</summary>
    public static void WaitFor(Func<string> stderr, string text, Process process)
    {
        var clock = Stopwatch.StartNew();
        while (!stderr().Contains(text, StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60) && !process.HasExited, $"'{text}' never appeared on stderr: {stderr()}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Runs <paramref name="args"/>; fails the test when the process outlives <paramref name="timeout"/>.</summary>
    public static Result Run(TimeSpan timeout, params string[] args) => Run(timeout, null, args);

    /// <summary>
    /// Runs <paramref name="args"/>, calling <paramref name="whileRunning"/> with the process once started and a
    /// function that returns what it has written to stderr so far.
    /// </summary>
    public static Result Run(TimeSpan timeout, Action<Process, Func<string>>? whileRunning, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Dll);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["TERM"] = "dumb";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.Append(e.Data).Append('\n');
                }
            }
        };
        process.BeginErrorReadLine();
        string StderrSoFar()
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        }

        whileRunning?.Invoke(process, StderrSoFar);
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"catsdogs {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:F0} s (killed). stderr so far: {StderrSoFar()}");
        }

        process.WaitForExit(); // also drains the redirected streams
        return new Result(process.ExitCode, stdout.Result, StderrSoFar(), clock.Elapsed);
    }

    /// <summary>Asserts a failure that a person can read: exit code 1, one "error:" line, no stack trace.</summary>
    public static void AssertCleanFailure(Result result, string because)
    {
        Assert.True(result.ExitCode == 1, $"{because}: exit code {result.ExitCode}, stderr: {result.Stderr}");
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter '", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("error: ", result.Stderr, StringComparison.Ordinal);
    }
}
