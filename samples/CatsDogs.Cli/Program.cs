using System.Runtime.InteropServices;

namespace CatsDogs.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        // First Ctrl+C (or SIGTERM): cancel the work, which ends with exit code 130 and no stack trace. A second one:
        // leave at once with 130. System.CommandLine's own handler is off (it threw on the second Ctrl+C).
        using var cancel = new CancellationTokenSource();
        var signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (Interlocked.Increment(ref signals) > 1)
            {
                Console.Error.WriteLine("Stopped.");
                Environment.Exit(CliApp.Cancelled);
            }

            Console.Error.WriteLine("Cancelling… (press Ctrl+C again to stop at once)");
            cancel.Cancel();
        }

        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return CliApp.Run(args, Console.Out, Console.Error, cancel.Token);
    }
}
