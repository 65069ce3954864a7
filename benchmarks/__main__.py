import sys

if "--redis-coordination" in sys.argv[1:]:
    # Redis Event, Barrier, RateLimiter (benchmarks/redis_coordination.py): its own options.
    from benchmarks.redis_coordination import main as coordination_main

    raise SystemExit(coordination_main([a for a in sys.argv[1:] if a != "--redis-coordination"]))

if "--redis" in sys.argv[1:]:
    # Redis locks (benchmarks/redis_bench.py): a group of its own, with its own options.
    from benchmarks.redis_bench import main as redis_main

    raise SystemExit(redis_main([a for a in sys.argv[1:] if a != "--redis"]))

from benchmarks.run import main

if {"-h", "--help"} & set(sys.argv[1:]):
    try:
        main()
    finally:
        print("\nRedis locks: python -m benchmarks --redis [--quick] (see --redis --help)")
        print(
            "Redis Event, Barrier, RateLimiter: python -m benchmarks --redis-coordination "
            "[--quick] (see --redis-coordination --help)"
        )

raise SystemExit(main())
